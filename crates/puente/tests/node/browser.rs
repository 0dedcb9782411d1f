//! The web application in a real browser: Debian's headless Chromium driven through
//! chromedriver (WebDriver over plain loopback HTTP), against real nodes — two of them, peered,
//! for the referral lifecycle. Every page visited is checked with axe-core (no serious or critical
//! violation) and photographed into `target/screenshots/`.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::federation::call;
use crate::helpers::{Backend, TestNode};

/// axe-core 4.11.0 from the npm registry (MPL-2.0, see `assets/axe.LICENSE`).
const AXE: &str = include_str!("assets/axe.min.js");

pub struct Browser {
    pub c: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn screenshots() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = dir.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    pub async fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (apt-get install chromium-driver; scripts/test does)");
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--window-size=1280,1000",
                         format!("--user-data-dir={}", profile.path().display())],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let c = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if tokio::time::Instant::now() > deadline => {
                    panic!("no WebDriver session: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Browser {
            c,
            driver,
            _profile: profile,
        }
    }

    pub async fn close(mut self) {
        self.c.clone().close().await.ok();
        self.driver.start_kill().ok();
        self.driver.wait().await.ok();
    }

    pub async fn goto(&self, url: &str) {
        self.c.goto(url).await.unwrap();
    }

    pub async fn text(&self) -> String {
        self.c
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn css(&self, css: &str) -> fantoccini::elements::Element {
        self.c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    pub async fn fill(&self, id: &str, value: &str) {
        let e = self.css(&format!("#{id}")).await;
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    /// Sets a date field as its picker would (typing into `<input type=date>` follows the
    /// browser's locale).
    pub async fn set_date(&self, id: &str, value: &str) {
        self.css(&format!("#{id}")).await;
        self.c
            .execute(
                "document.getElementById(arguments[0]).value = arguments[1];",
                vec![json!(id), json!(value)],
            )
            .await
            .unwrap();
    }

    pub async fn choose(&self, id: &str, value: &str) {
        self.css(&format!("#{id}"))
            .await
            .select_by_value(value)
            .await
            .unwrap();
    }

    /// Clicks and waits until the next page is there (its `main` differs from this one's).
    pub async fn click(&self, css: &str) {
        let before = self.c.find(Locator::Css("html")).await.unwrap();
        self.css(css).await.click().await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        // A stale element means the document was replaced.
        while before.tag_name().await.is_ok() {
            assert!(tokio::time::Instant::now() < deadline, "{css}: no new page");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.css("main").await;
    }

    /// Opens `url` again and again (for up to 30 s) until its text holds `needle`, which the
    /// other node sends: the page's text.
    pub async fn until_shown(&self, url: &str, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            self.goto(url).await;
            let page = self.text().await;
            if page.contains(needle) {
                return page;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{url}: never showed {needle:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Runs axe-core on the page: no serious or critical violation.
    pub async fn axe(&self, what: &str) {
        self.c.execute(AXE, vec![]).await.unwrap();
        let found = self
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']}).then(r => done(
                   r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.id + ' (' + v.impact + '): ' +
                          v.nodes.map(n => n.target.join(' ')).join(', '))));",
                vec![],
            )
            .await
            .unwrap();
        let found: Vec<Value> = serde_json::from_value(found).unwrap();
        assert!(
            found.is_empty(),
            "{what}: accessibility violations {found:#?}"
        );
    }

    /// Checks the page with axe and saves a screenshot as `name.png`.
    pub async fn check(&self, name: &str) {
        self.axe(name).await;
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
    }

    pub async fn sign_in(&self, node: &TestNode, name: &str, password: &str) {
        self.goto(&format!("{}/login", node.url)).await;
        self.fill("name", name).await;
        self.fill("password", password).await;
        self.click("form.login button").await;
        assert!(
            self.c.current_url().await.unwrap().path() == "/home",
            "{name} signed in: {}",
            self.text().await
        );
    }

    pub async fn sign_out(&self) {
        self.click("form[action='/logout'] button").await;
    }

    /// The paths the main navigation offers.
    pub async fn nav(&self) -> Vec<String> {
        let mut out = vec![];
        for a in self.c.find_all(Locator::Css("nav.main a")).await.unwrap() {
            out.push(a.attr("href").await.unwrap().unwrap_or_default());
        }
        out
    }
}

/// The English texts of the pages' messages that differ in Spanish (long enough not to be a
/// coincidence inside a Spanish sentence, and without arguments).
fn english_only_texts() -> Vec<String> {
    let read = |lang: &str| {
        let path = format!(
            "{}/../web/locales/{lang}/puente.ftl",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("ui-"))
            .filter_map(|l| l.split_once(" = "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (en, es) = (read("en"), read("es"));
    en.into_iter()
        .filter(|(k, v)| !v.contains('{') && v.len() >= 6 && es.get(k).is_some_and(|s| s != v))
        .map(|(_, v)| v)
        .collect()
}

/// Whether `text` holds `words` not as part of a longer word ("person" is not in "personas").
fn contains_words(text: &str, words: &str) -> bool {
    text.match_indices(words).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + words.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

fn day(offset: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(offset)).to_string()
}

#[tokio::test]
async fn a_referral_is_clicked_through_from_us_to_mx_and_back() {
    let (us, mx) = TestNode::pair(Backend::Sqlite).await;
    let us_liaison = us.add_user("liaison", "liaison-officer").await;
    let mx_liaison = mx.add_user("enlace", "liaison-officer").await;
    let mx_agency = mx.add_user("aduana", "agency-user").await;
    let b = Browser::start().await;

    // US: the liaison officer composes a referral, in Spanish, with bad input first.
    b.sign_in(&us, "liaison", &us_liaison).await;
    b.check("home-liaison-en").await;
    b.click("nav.main a[href='/referrals']").await;
    b.click("a[href='/referrals/new']").await;
    b.click("nav.lang a[lang='es']").await;
    assert!(b.text().await.contains("Redactar una remisión"));
    b.fill("details", "Datos ficticios de prueba.").await;
    b.fill("purpose", "Interdicción de un cargamento de armas")
        .await;
    b.fill("retention_days", "un año").await;
    b.click("form.compose button[type='submit']").await;
    // Each error sits next to its field, in Spanish, and what was typed is still there.
    // The summary at the top names each field by its label and links to it.
    let link = b
        .css(".error-summary a[href='#summary']")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(link, "Resumen");
    let summary_error = b.css("#summary-error").await.text().await.unwrap();
    assert_eq!(summary_error.trim(), "Este campo no puede estar vacío.");
    let retention_error = b.css("#retention_days-error").await.text().await.unwrap();
    assert!(
        retention_error.contains("Tipo incorrecto"),
        "{retention_error}"
    );
    let kept = b.css("#details").await.prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("Datos ficticios de prueba."));
    let kept = b.css("#purpose").await.prop("value").await.unwrap();
    assert_eq!(
        kept.as_deref(),
        Some("Interdicción de un cargamento de armas")
    );
    b.check("compose-referral-error-es").await;

    b.fill("summary", "Camioneta con rifles hacia Santa Teresa")
        .await;
    b.fill("retention_days", "365").await;
    b.fill("place", "Santa Teresa").await;
    b.choose("entity_0_type", "vehicle").await;
    b.fill("entity_0_0", "ABC-123-X").await;
    b.fill("entity_0_1", "Ford").await;
    b.fill("legal_basis", "Acuerdo bilateral, art. 4").await;
    b.click("form.compose button[type='submit']").await;
    let sent_url = b.c.current_url().await.unwrap();
    assert!(
        sent_url.path().starts_with("/referrals/0"),
        "{sent_url}: {}",
        b.text().await
    );
    let id = sent_url.path().trim_start_matches("/referrals/").to_owned();
    assert!(b.text().await.contains("enviada"));
    b.check("referral-sent-es").await;
    b.click("nav.lang a[lang='en']").await;
    b.sign_out().await;

    // MX: the liaison officer finds it in the inbox and takes every step.
    b.sign_in(&mx, "enlace", &mx_liaison).await;
    b.until_shown(
        &format!("{}/referrals?direction=inbound", mx.url),
        "Camioneta con rifles",
    )
    .await;
    b.check("referrals-inbox-en").await;
    b.click(&format!("a[href='/referrals/{id}']")).await;
    assert!(b.text().await.contains("TLP:AMBER"));
    b.check("referral-received-en").await;
    b.click(&format!(
        "form[action='/referrals/{id}/acknowledge'] button"
    ))
    .await;
    assert!(b.text().await.contains("acknowledged"));
    b.fill("agency", "CBP").await;
    b.click(&format!("form[action='/referrals/{id}/assign'] button"))
        .await;
    assert!(b.text().await.contains("assigned to an agency"));
    b.fill("result_value", "12").await;
    b.fill("result_unit", "rifles").await;
    b.fill("result_what", "rifles seized").await;
    b.click(&format!("form[action='/referrals/{id}/outcome'] button"))
        .await;
    let page = b.text().await;
    assert!(
        page.contains("closed") && page.contains("acted on"),
        "{page}"
    );
    b.check("referral-closed-en").await;
    b.sign_out().await;

    // MX: the agency user sees the referral assigned to its agency, and cannot compose.
    b.sign_in(&mx, "aduana", &mx_agency).await;
    assert!(b.text().await.contains("Camioneta con rifles"));
    assert!(!b.nav().await.iter().any(|h| h == "/audit"));
    b.check("home-agency-en").await;
    b.goto(&format!("{}/referrals/new", mx.url)).await;
    assert!(b.text().await.contains("policy"));
    b.sign_out().await;

    // US: the outcome came back; the history has every step.
    b.sign_in(&us, "liaison", &us_liaison).await;
    let page = b
        .until_shown(&format!("{}/referrals/{id}", us.url), "outcome reported")
        .await;
    assert!(page.contains("acknowledged") && page.contains("assigned to an agency"));
    // The outcome's results are shown, not only its name.
    assert!(page.contains("12 rifles · rifles seized"), "{page}");
    b.check("referral-outcome-back-en").await;
    b.goto(&format!("{}/reciprocity", us.url)).await;
    b.check("reciprocity-en").await;
    b.close().await;
}

#[tokio::test]
async fn a_request_for_information_is_asked_by_mx_and_answered_by_us() {
    let (us, mx) = TestNode::pair(Backend::Sqlite).await;
    let us_liaison = us.add_user("liaison", "liaison-officer").await;
    let mx_liaison = mx.add_user("enlace", "liaison-officer").await;
    let b = Browser::start().await;

    // MX asks, in Spanish: a firearm trace by serial number.
    b.sign_in(&mx, "enlace", &mx_liaison).await;
    b.click("nav.lang a[lang='es']").await;
    b.click("nav.main a[href='/requests']").await;
    b.click("a[href='/requests/new']").await;
    assert!(b.text().await.contains("Solicitar información"));
    b.choose("kind", "firearm-trace").await;
    b.fill("question", "¿A quién se vendió este fusil?").await;
    b.choose("entity_0_type", "firearm").await;
    b.fill("entity_0_0", "SN-0042-FICT").await;
    b.fill("purpose", "Rastreo de un arma asegurada").await;
    b.fill("legal_basis", "Acuerdo bilateral, art. 4").await;
    b.fill("retention_days", "365").await;
    b.check("compose-request-es").await;
    b.click("form.compose button[type='submit']").await;
    let url = b.c.current_url().await.unwrap();
    assert!(
        url.path().starts_with("/requests/0"),
        "{url}: {}",
        b.text().await
    );
    let id = url.path().trim_start_matches("/requests/").to_owned();
    b.click("nav.lang a[lang='en']").await;
    b.sign_out().await;

    // US finds it in the inbox, acknowledges it and answers.
    b.sign_in(&us, "liaison", &us_liaison).await;
    b.until_shown(
        &format!("{}/requests?direction=inbound", us.url),
        "¿A quién se vendió este fusil?",
    )
    .await;
    b.click(&format!("a[href='/requests/{id}']")).await;
    assert!(b.text().await.contains("SN-0042-FICT"));
    b.click(&format!("form[action='/requests/{id}/acknowledge'] button"))
        .await;
    assert!(b.text().await.contains("acknowledged"));
    b.fill("text", "Sold in Tucson, AZ, on 2024-03-02 (fictional).")
        .await;
    b.click(&format!("form[action='/requests/{id}/answer'] button"))
        .await;
    let page = b.text().await;
    assert!(page.contains("answered"), "{page}");
    b.check("request-answered-en").await;
    b.sign_out().await;

    // MX reads the answer itself, in the language it was written in.
    b.sign_in(&mx, "enlace", &mx_liaison).await;
    let page = b
        .until_shown(&format!("{}/requests/{id}", mx.url), "Sold in Tucson, AZ")
        .await;
    assert!(page.contains("found"), "{page}");
    let quote = b.css("ol.history blockquote[lang='en']").await;
    assert!(quote.text().await.unwrap().contains("Sold in Tucson"));
    b.check("request-answer-back-en").await;
    b.close().await;
}

#[tokio::test]
async fn roles_a_meeting_and_both_languages_in_the_browser() {
    let node = TestNode::spawn(Backend::Sqlite).await;
    let mut passwords = std::collections::BTreeMap::new();
    for (name, role) in [
        ("officer", "program-officer"),
        ("liaison", "liaison-officer"),
        ("agency", "agency-user"),
        ("auditor", "auditor"),
    ] {
        passwords.insert(name, node.add_user(name, role).await);
    }
    let token = node.token("officer").await;
    let (s, ind) = call(
        &node,
        &token,
        "POST",
        "/api/v1/indicators",
        Some(json!({
            "code": "TUNNELS-SEALED", "area": "border-security",
            "name": {"en": "Tunnels sealed", "es": "Túneles sellados"}, "unit": "count",
            "direction": "higher-is-better", "baseline": {"value": 1, "period": "2024"},
            "targets": [{"period": "2025Q4", "value": 6}, {"period": "2026Q4", "value": 12}],
        })),
    )
    .await;
    assert_eq!(s, 201, "{ind}");
    let iid = ind["id"].as_str().unwrap().to_owned();
    for (period, value) in [("2025Q2", 2.0), ("2025Q4", 5.0), ("2026Q2", 7.0)] {
        let (s, m) = call(
            &node,
            &token,
            "POST",
            &format!("/api/v1/indicators/{iid}/measurements"),
            Some(json!({"period": period, "value": value, "source": "CBP monthly report"})),
        )
        .await;
        assert_eq!(s, 201, "{m}");
    }
    // A commitment past its due date: the meeting's agenda must bring it up.
    let (s, c) = call(
        &node,
        &token,
        "POST",
        "/api/v1/commitments",
        Some(json!({
            "area": "border-security",
            "title": {"en": "Seal clandestine tunnels", "es": "Sellar túneles clandestinos"},
            "description": {"en": "Detect and seal cross-border tunnels.",
                            "es": "Detectar y sellar túneles transfronterizos."},
            "owners": ["US"], "agency": "CBP", "start": day(-90), "due": day(-2),
            "indicators": [iid],
        })),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    let (s, m) = call(
        &node,
        &token,
        "POST",
        "/api/v1/meetings",
        Some(json!({"date": day(3), "place": "Ciudad de México"})),
    )
    .await;
    assert_eq!(s, 201, "{m}");
    let meeting = m["id"].as_str().unwrap().to_owned();

    let b = Browser::start().await;
    // Each role: what the navigation offers, as the policy decides.
    let expected: [(&str, &[&str]); 4] = [
        (
            "officer",
            &[
                "/home",
                "/commitments",
                "/meetings",
                "/reciprocity",
                "/report",
            ],
        ),
        (
            "liaison",
            &[
                "/home",
                "/commitments",
                "/meetings",
                "/referrals",
                "/requests",
                "/reciprocity",
                "/report",
            ],
        ),
        ("agency", &["/home", "/commitments", "/referrals"]),
        (
            "auditor",
            &[
                "/home",
                "/commitments",
                "/meetings",
                "/referrals",
                "/requests",
                "/reciprocity",
                "/report",
                "/audit",
                "/exchange-log",
            ],
        ),
    ];
    for (name, paths) in expected {
        b.sign_in(&node, name, &passwords[name]).await;
        assert_eq!(b.nav().await, paths, "{name}");
        b.check(&format!("home-{name}-en")).await;
        b.sign_out().await;
    }

    // The program officer prepares the meeting from its agenda.
    b.sign_in(&node, "officer", &passwords["officer"]).await;
    b.goto(&format!("{}/meetings", node.url)).await;
    b.check("meetings-en").await;
    b.click(&format!("a[href='/meetings/{meeting}']")).await;
    let agenda = b.css("ol.agenda").await.text().await.unwrap();
    assert!(
        agenda.contains("Seal clandestine tunnels") && agenda.contains("Overdue"),
        "{agenda}"
    );
    b.fill("attendees", "Ana Ruiz (US)\nLuis Pérez (MX)").await;
    b.fill("decision_en", "Inspect the Otay Mesa tunnel jointly")
        .await;
    b.fill(
        "decision_es",
        "Inspeccionar conjuntamente el túnel de Otay Mesa",
    )
    .await;
    b.fill("follow_en", "Report on tunnel sealing").await;
    b.fill("follow_es", "Informe sobre el sellado de túneles")
        .await;
    b.fill("follow_owner", "US").await;
    b.set_date("follow_due", &day(30)).await;
    b.click("form[action$='/prepare'] button[type='submit']")
        .await;
    let page = b.text().await;
    assert!(
        page.contains("Inspect the Otay Mesa tunnel jointly"),
        "{page}"
    );
    assert!(
        page.contains("Ana Ruiz (US), Luis Pérez (MX)")
            && page.contains("Report on tunnel sealing")
    );
    b.check("meeting-en").await;

    // Recording an action with a bad quantity: the error next to the field, input kept.
    let cid = c["id"].as_str().unwrap();
    b.goto(&format!("{}/commitments/{cid}", node.url)).await;
    b.set_date("date", &day(-1)).await;
    b.fill("agency", "CBP").await;
    b.fill("description_en", "Sealed one tunnel").await;
    b.fill("description_es", "Se selló un túnel").await;
    b.fill("output_value", "one").await;
    b.fill("output_unit", "tunnels").await;
    b.fill("output_what", "tunnels sealed").await;
    b.click("form[action$='/actions'] button[type='submit']")
        .await;
    let err = b.css("#output_value-error").await.text().await.unwrap();
    assert!(err.contains("Wrong type"), "{err}");
    let kept = b.css("#description_es").await.prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("Se selló un túnel"));
    b.fill("output_value", "1").await;
    b.click("form[action$='/actions'] button[type='submit']")
        .await;
    assert!(b.text().await.contains("Sealed one tunnel"));
    b.check("commitment-en").await;

    // The indicator's chart is drawn by the node, as SVG, with its figures in a table.
    b.goto(&format!("{}/indicators/{iid}", node.url)).await;
    b.css("figure.chart svg polyline").await;
    assert!(b.text().await.contains("Actual, US"));

    // Switching language changes every string of the page.
    let english = english_only_texts();
    let pages = [
        "/home".to_owned(),
        "/commitments".to_owned(),
        format!("/meetings/{meeting}"),
        format!("/commitments/{cid}"),
        format!("/indicators/{iid}"),
        "/report".to_owned(),
    ];
    in_both_languages(&b, &node, &pages, &english).await;
    b.sign_out().await;
    b.sign_in(&node, "auditor", &passwords["auditor"]).await;
    let pages = ["/audit".to_owned(), "/exchange-log".to_owned()];
    in_both_languages(&b, &node, &pages, &english).await;
    b.close().await;
}

/// Opens each page in English, checks it, switches to Spanish: no English text of the messages
/// may be left, and the Spanish page passes the same checks.
async fn in_both_languages(b: &Browser, node: &TestNode, paths: &[String], english: &[String]) {
    for path in paths {
        b.goto(&format!("{}{path}", node.url)).await;
        b.check(&format!("{}-en", shot_name(path))).await;
        b.click("nav.lang a[lang='es']").await;
        let page = b.text().await;
        let left: Vec<&String> = english
            .iter()
            .filter(|t| contains_words(&page, t))
            .collect();
        assert!(
            left.is_empty(),
            "{path} in Spanish still says {left:?}:\n{page}"
        );
        b.check(&format!("{}-es", shot_name(path))).await;
        b.click("nav.lang a[lang='en']").await;
    }
}

fn shot_name(path: &str) -> String {
    match path.trim_start_matches('/').split('/').next() {
        Some("meetings") => "meeting-page".into(),
        Some("commitments") if path.len() > "/commitments".len() => "commitment-page".into(),
        Some("indicators") => "indicator-page".into(),
        Some(p) => p.to_owned(),
        None => "page".into(),
    }
}
