//! The store conformance suite: every test is written once, against `&dyn Store`, and the
//! `conformance!` macro runs it on both backends (`sqlite::…` and `postgres::…`).
//!
//! SQLite tests get a fresh file in a temporary directory. PostgreSQL tests get a fresh database
//! on the server named by `PUENTE_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), dropped afterwards; if the server is unreachable
//! they fail rather than skip, so a green run always means both backends were exercised.
//!
//! Record instants are passed in already truncated to microseconds (what the store keeps), so
//! "what you write is what you read" is checked with plain equality.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use puente_domain::{
    Action, ActionDraft, AgendaReason, AgendaSubject, AreaCode, Commitment, CommitmentDraft,
    Direction, FieldErrorCode, FollowUp, IndicatorDraft, Invalid, LocalizedText, MeasurementDraft,
    MeetingDecision, MeetingDraft, Output, Owners, PartyCode, Period, RecordMeta, Role, Status,
    StatusInputs, StatusSchedule, Target, build_agenda,
};
use puente_store::postgres::PgStore;
use puente_store::sqlite::SqliteStore;
use puente_store::{
    Accepted, ActionFilter, CommitmentFilter, Direction as EnvelopeDirection, Effect,
    EnvelopeRecord, ExchangeItem, Inbound, InboundRejection, IndicatorFilter, ItemFilter, ItemKind,
    ItemState, JobEffect, MeetingFilter, NewAuditEntry, NewItem, NewPeer, NewStep, OwnedStep, Page,
    ReceiveReport, SealedEnvelope, SendJob, Sent, StepRefused, Store, StoreError, Stream, User,
    UserChanges, WriteCtx,
};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use time::macros::date;
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Harness

/// A store under test, plus raw SQL access to its database for tampering.
struct Harness {
    store: Arc<dyn Store>,
    raw: Raw,
}

enum Raw {
    Sqlite(SqliteStore),
    Pg(PgStore),
}

impl Harness {
    fn s(&self) -> &dyn Store {
        &*self.store
    }

    async fn raw(&self, sql: &str) -> u64 {
        match &self.raw {
            Raw::Sqlite(s) => s.raw_execute(sql).await.unwrap(),
            Raw::Pg(s) => s.raw_execute(sql).await.unwrap(),
        }
    }

    /// What opening the store does about the status counts.
    async fn ensure_status_counts(&self) {
        match &self.raw {
            Raw::Sqlite(s) => s.ensure_status_counts().await.unwrap(),
            Raw::Pg(s) => s.ensure_status_counts().await.unwrap(),
        }
    }
}

type H = Arc<Harness>;

async fn run_sqlite<F, Fut>(test: F)
where
    F: FnOnce(H) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = std::env::temp_dir().join(format!("puente-store-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(&dir.join("node.db")).await.unwrap();
    let h = Arc::new(Harness {
        store: Arc::new(store.clone()),
        raw: Raw::Sqlite(store.clone()),
    });
    let result = tokio::spawn(test(h)).await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn run_postgres<F, Fut>(test: F)
where
    F: FnOnce(H) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin_url = std::env::var("PUENTE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL must be reachable at {admin_url} for the conformance suite: {e}")
        });
    let name = format!("puente_t_{}", Uuid::now_v7().simple());
    // Concurrent CREATE DATABASE calls can collide on the template; retry a few times.
    let mut tries = 0;
    loop {
        match sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
        {
            Ok(_) => break,
            Err(e) if tries < 5 => {
                tries += 1;
                eprintln!("CREATE DATABASE failed ({e}), retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("CREATE DATABASE {name}: {e}"),
        }
    }
    let options = sqlx::postgres::PgConnectOptions::from_str(&admin_url)
        .unwrap()
        .database(&name);
    let store = PgStore::connect_with(options).await.unwrap();
    let h = Arc::new(Harness {
        store: Arc::new(store.clone()),
        raw: Raw::Pg(store.clone()),
    });
    let result = tokio::spawn(test(h)).await;
    store.close().await;
    for _ in 0..3 {
        let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        match sqlx::query(&drop).execute(&mut admin).await {
            Ok(_) => break,
            Err(e) => {
                eprintln!("DROP DATABASE {name} failed ({e}), retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
    let _ = admin.close().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Generates one `#[tokio::test]` per backend for each named test function.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run_sqlite(crate::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run_postgres(crate::$name).await;
                }
            )*
        }
    };
}

conformance!(
    init_once,
    users_round_trip_and_conflicts,
    tokens_and_sessions,
    token_changes_from_another_process_take_effect_within_the_memory,
    the_log_holds_every_envelope_in_the_order_stored,
    a_log_created_late_takes_the_envelopes_stored_before,
    subtree_heads_from_stored_nodes_and_leaves_agree_with_the_reference,
    cosigning_extends_the_copy_once_and_disputes_the_rest,
    commitments_filters_and_keyset_paging,
    commitment_update_and_stale_version,
    unknown_indicator_writes_nothing,
    actions_recompute_the_schedule,
    measurements_are_unique_and_drive_status,
    status_filter_agrees_with_status_on,
    meetings_round_trip,
    agenda_candidates_build_the_expected_agenda,
    agenda_head_is_the_head_of_the_agenda,
    status_counts_follow_every_write,
    audit_records_every_write_and_detects_tampering,
    concurrent_writers_keep_one_chain,
    import_matches_creating_one_by_one,
    import_with_one_bad_record_imports_nothing,
    peers_register_replace_and_list,
    send_numbers_per_peer_and_fills_the_outbox,
    send_refused_by_decide_stores_nothing,
    receipts_mark_only_matching_envelopes,
    receive_applies_in_order_once,
    items_filter_page_and_keep_their_steps,
    concurrent_sends_get_consecutive_seqs,
    a_batch_of_sends_commits_each_on_its_own_merits,
    a_message_repeated_within_one_batch_is_held_once,
    writes_abandoned_halfway_leave_the_store_writable,
);

// ---------------------------------------------------------------------------------------------
// Fixtures

/// Now, truncated to whole microseconds: what the store keeps of an instant.
fn now_us() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000).unwrap()
}

fn ctx() -> WriteCtx {
    WriteCtx {
        actor: "ana".into(),
        ip: Some("192.0.2.7".into()),
        now: now_us(),
    }
}

fn meta(origin: PartyCode) -> RecordMeta {
    RecordMeta::new(Uuid::now_v7(), origin, now_us())
}

fn area(code: &str) -> AreaCode {
    AreaCode::parse(code).unwrap()
}

fn text(s: &str) -> LocalizedText {
    LocalizedText::from_pair(&format!("{s} (en)"), &format!("{s} (es)"))
}

fn days(d: Date, n: i64) -> Date {
    d + Duration::days(n)
}

/// [`commitment`] with a title that differs with `k` (every third one names a fence, in a
/// wildcard-bearing Spanish title).
fn titled(
    k: i64,
    area_code: &str,
    owners: Owners,
    agency: &str,
    start: Date,
    due: Date,
    indicators: Vec<Uuid>,
) -> CommitmentDraft {
    let title = if k % 3 == 0 {
        LocalizedText::from_pair(
            &format!("Build fence {k}"),
            &format!("Construir 100% valla {k}"),
        )
    } else {
        LocalizedText::from_pair(&format!("Seal TUNNELS {k}"), &format!("Sellar túneles {k}"))
    };
    CommitmentDraft::new(
        area(area_code),
        title,
        text("Seal every tunnel found"),
        owners,
        agency,
        start,
        due,
        indicators,
    )
    .unwrap()
}

fn commitment(
    area_code: &str,
    owners: Owners,
    agency: &str,
    start: Date,
    due: Date,
    indicators: Vec<Uuid>,
) -> CommitmentDraft {
    CommitmentDraft::new(
        area(area_code),
        text("Seal tunnels"),
        text("Seal every tunnel found"),
        owners,
        agency,
        start,
        due,
        indicators,
    )
    .unwrap()
}

fn simple_commitment(start: Date, due: Date) -> CommitmentDraft {
    commitment(
        "fuel-theft",
        Owners::One(PartyCode::MX),
        "SEMAR",
        start,
        due,
        vec![],
    )
}

fn action(commitment: Uuid, date: Date, completes: bool) -> ActionDraft {
    ActionDraft::new(
        commitment,
        date,
        "Fiscalía General",
        text("Raid"),
        vec![Output::new("/outputs/0", 120.5, "kg", "fentanyl seized").unwrap()],
        vec!["case 2025/118".into(), "https://example.org/doc".into()],
        completes,
    )
    .unwrap()
}

/// One action on `commitment` on `date` per flag, completing it where the flag is set.
async fn record_actions(s: &dyn Store, commitment: Uuid, date: Date, completing: &[bool]) {
    for completes in completing {
        s.create_action(
            &ctx(),
            &meta(PartyCode::MX),
            &action(commitment, date, *completes),
        )
        .await
        .unwrap();
    }
}

fn indicator(code: &str, baseline: f64, target: f64) -> IndicatorDraft {
    IndicatorDraft::new(
        code,
        Some(area("fuel-theft")),
        text("Seizures"),
        "kg",
        Direction::HigherIsBetter,
        baseline,
        Period::Year(2024),
        vec![
            Target {
                period: Period::Year(2026),
                value: target,
            },
            Target {
                period: Period::Quarter(2025, 4),
                value: target / 2.0,
            },
        ],
    )
    .unwrap()
}

fn measurement(indicator: Uuid, period: &str, party: PartyCode, value: f64) -> MeasurementDraft {
    MeasurementDraft::new(
        indicator,
        Period::parse(period).unwrap(),
        party,
        value,
        "joint report",
    )
    .unwrap()
}

fn user(name: &str) -> User {
    User {
        meta: meta(PartyCode::MX),
        name: name.into(),
        role: Role::AgencyUser,
        agency: Some("SEMAR".into()),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        disabled: false,
        lang: Some("es".into()),
    }
}

fn invalid_at(e: &StoreError) -> Vec<(String, FieldErrorCode)> {
    match e {
        StoreError::Invalid(Invalid(errors)) => errors
            .iter()
            .map(|f| (f.pointer.clone(), f.code.clone()))
            .collect(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// Every page of a keyset-paged listing, checking pages are no longer than asked and that ids
/// strictly increase across pages (so nothing comes twice).
macro_rules! all_pages {
    ($limit:expr, |$page:ident| $call:expr, $id:expr) => {{
        let mut out = Vec::new();
        let mut after = None;
        for round in 0.. {
            assert!(round < 10_000, "paging does not end");
            let $page = Page {
                after,
                limit: $limit,
            };
            let got = $call.await.unwrap();
            assert!(got.items.len() <= $limit as usize);
            out.extend(got.items);
            match got.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let ids: Vec<Uuid> = out.iter().map($id).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ids not strictly increasing"
        );
        out
    }};
}

async fn schedule_of(s: &dyn Store, commitment: Uuid) -> StatusSchedule {
    s.get_commitment(commitment)
        .await
        .unwrap()
        .unwrap()
        .schedule
}

async fn audit_len(s: &dyn Store) -> usize {
    s.list_audit(None, 1_000_000).await.unwrap().len()
}

// ---------------------------------------------------------------------------------------------
// Tests

async fn init_once(h: H) {
    let s = h.s();
    assert_eq!(s.node_info().await.unwrap(), None);
    let c = WriteCtx {
        now: OffsetDateTime::now_utc(),
        ..ctx()
    };
    let info = s.init_node(&c, PartyCode::MX).await.unwrap();
    assert_eq!(info.party, PartyCode::MX);
    assert_eq!(s.node_info().await.unwrap(), Some(info.clone()));
    // Stored at microsecond precision.
    assert_eq!(info.created_at.nanosecond() % 1000, 0);
    assert!((c.now - info.created_at) < Duration::microseconds(1));

    let again = s.init_node(&ctx(), PartyCode::US).await.unwrap_err();
    assert!(
        matches!(
            again,
            StoreError::Duplicate {
                what: "node",
                pointer: "/party"
            }
        ),
        "{again:?}"
    );
    assert_eq!(s.node_info().await.unwrap(), Some(info));
    let audit = s.list_audit(None, 100).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(s.last_audit_seq().await.unwrap(), audit[0].seq);
    assert_eq!(audit[0].entry.action, "node.init");
    assert_eq!(audit[0].entry.target.as_deref(), Some("MX"));
    assert!(matches!(s.backend(), "sqlite" | "postgres"));
}

async fn users_round_trip_and_conflicts(h: H) {
    let s = h.s();
    let ana = user("ana");
    let created = s.create_user(&ctx(), &ana).await.unwrap();
    assert_eq!(created, ana);
    assert_eq!(s.user_by_id(ana.meta.id).await.unwrap(), Some(ana.clone()));
    assert_eq!(s.user_by_name("ana").await.unwrap(), Some(ana.clone()));
    assert_eq!(s.user_by_name("nobody").await.unwrap(), None);
    assert_eq!(s.user_by_id(Uuid::now_v7()).await.unwrap(), None);

    let mut bare = user("bob");
    bare.agency = None;
    bare.password_hash = None;
    bare.lang = None;
    bare.role = Role::Auditor;
    assert_eq!(s.create_user(&ctx(), &bare).await.unwrap(), bare);

    let dup_name = s.create_user(&ctx(), &user("ana")).await.unwrap_err();
    assert!(matches!(
        dup_name,
        StoreError::Duplicate {
            what: "user",
            pointer: "/name"
        }
    ));
    let mut dup_id = user("carla");
    dup_id.meta = ana.meta.clone();
    let dup_id = s.create_user(&ctx(), &dup_id).await.unwrap_err();
    assert!(
        matches!(
            dup_id,
            StoreError::Duplicate {
                what: "user",
                pointer: "/id"
            }
        ),
        "{dup_id:?}"
    );

    // An update without a password keeps the hash; with one, replaces it.
    let c = ctx();
    let changes = UserChanges {
        role: Role::ProgramOfficer,
        agency: None,
        disabled: false,
        lang: Some("en".into()),
        password_hash: None,
    };
    let updated = s.update_user(&c, ana.meta.id, 1, &changes).await.unwrap();
    assert_eq!(updated.meta.version, 2);
    assert_eq!(updated.meta.updated_at, c.now);
    assert_eq!(updated.meta.created_at, ana.meta.created_at);
    assert_eq!(updated.role, Role::ProgramOfficer);
    assert_eq!(updated.agency, None);
    assert_eq!(updated.password_hash, ana.password_hash);
    assert_eq!(
        s.user_by_id(ana.meta.id).await.unwrap(),
        Some(updated.clone())
    );

    let stale = s
        .update_user(&ctx(), ana.meta.id, 1, &changes)
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            StoreError::VersionConflict {
                kind: "user",
                current: 2,
                given: 1,
                ..
            }
        ),
        "{stale:?}"
    );
    let missing = s
        .update_user(&ctx(), Uuid::now_v7(), 1, &changes)
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { kind: "user", .. }));

    let new_pw = UserChanges {
        password_hash: Some("$argon2id$new".into()),
        ..changes
    };
    let updated = s
        .update_user(&ctx(), ana.meta.id, 2, &new_pw)
        .await
        .unwrap();
    assert_eq!(updated.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(updated.meta.version, 3);

    for n in 0..5 {
        s.create_user(&ctx(), &user(&format!("user{n}")))
            .await
            .unwrap();
    }
    let all = all_pages!(2, |page| s.list_users(page), |u: &User| u.meta.id);
    assert_eq!(all.len(), 7);
    let names: BTreeSet<&str> = all.iter().map(|u| u.name.as_str()).collect();
    assert!(names.contains("ana") && names.contains("bob") && names.contains("user4"));

    // No audit detail carries a password hash.
    for e in s.list_audit(None, 1000).await.unwrap() {
        assert!(!e.entry.detail.contains("argon2"), "{}", e.entry.detail);
    }
}

/// A token revoked by another process on the same database (here, raw SQL beside the store, as
/// `puente token revoke` beside a running node) stops working once the lookup the store
/// remembers has aged out: within `TOKEN_MEMORY`, and not before the store was asked again.
async fn token_changes_from_another_process_take_effect_within_the_memory(h: H) {
    let s = h.s();
    let ana = s.create_user(&ctx(), &user("ana")).await.unwrap();
    let secret = [6u8; 32];
    s.create_token(&ctx(), Uuid::now_v7(), ana.meta.id, &secret, "ci")
        .await
        .unwrap();
    assert!(s.user_by_token(&secret).await.unwrap().is_some());
    assert_eq!(h.raw("DELETE FROM tokens").await, 1);
    let deadline = std::time::Instant::now() + puente_store::credentials::TOKEN_MEMORY * 3;
    while s.user_by_token(&secret).await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "a token deleted elsewhere still works after three times the memory"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Forgotten for good: nothing remembers a token that names nobody.
    assert_eq!(s.user_by_token(&secret).await.unwrap(), None);
}

async fn tokens_and_sessions(h: H) {
    let s = h.s();
    let ana = s.create_user(&ctx(), &user("ana")).await.unwrap();
    let secret = [7u8; 32];
    let token = Uuid::now_v7();
    s.create_token(&ctx(), token, ana.meta.id, &secret, "ci")
        .await
        .unwrap();
    assert_eq!(s.user_by_token(&secret).await.unwrap(), Some(ana.clone()));
    assert_eq!(s.user_by_token(&[8u8; 32]).await.unwrap(), None);
    let dup = s
        .create_token(&ctx(), Uuid::now_v7(), ana.meta.id, &secret, "x")
        .await
        .unwrap_err();
    assert!(
        matches!(dup, StoreError::Duplicate { what: "token", .. }),
        "{dup:?}"
    );
    let nobody = s
        .create_token(&ctx(), Uuid::now_v7(), Uuid::now_v7(), &[9; 32], "x")
        .await;
    assert!(matches!(
        nobody,
        Err(StoreError::NotFound { kind: "user", .. })
    ));

    let now = now_us();
    let at = |t: OffsetDateTime| WriteCtx { now: t, ..ctx() };
    let live = [1u8; 32];
    let expired = [2u8; 32];
    s.create_session(
        &at(now - Duration::hours(9)),
        &expired,
        ana.meta.id,
        now - Duration::hours(1),
    )
    .await
    .unwrap();
    assert_eq!(s.user_by_session(&expired, now).await.unwrap(), None);
    s.create_session(&at(now), &live, ana.meta.id, now + Duration::hours(8))
        .await
        .unwrap();
    assert_eq!(
        s.user_by_session(&live, now).await.unwrap(),
        Some(ana.clone())
    );
    // Starting a session purged the expired one: it is gone even for a clock set back.
    assert_eq!(
        s.user_by_session(&expired, now - Duration::hours(5))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.user_by_session(&live, now + Duration::hours(8))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.user_by_session(&[3u8; 32], now).await.unwrap(), None);

    // A disabled user is found by neither token nor session, and its sessions end for good.
    let disable = UserChanges {
        role: ana.role,
        agency: ana.agency.clone(),
        disabled: true,
        lang: ana.lang.clone(),
        password_hash: None,
    };
    s.update_user(&ctx(), ana.meta.id, 1, &disable)
        .await
        .unwrap();
    assert_eq!(s.user_by_token(&secret).await.unwrap(), None);
    assert_eq!(s.user_by_session(&live, now).await.unwrap(), None);
    let enable = UserChanges {
        disabled: false,
        ..disable.clone()
    };
    s.update_user(&ctx(), ana.meta.id, 2, &enable)
        .await
        .unwrap();
    assert_eq!(s.user_by_session(&live, now).await.unwrap(), None);
    assert!(s.user_by_token(&secret).await.unwrap().is_some());

    // A new password ends the sessions too; a change of language does not.
    let second = [4u8; 32];
    s.create_session(&at(now), &second, ana.meta.id, now + Duration::hours(8))
        .await
        .unwrap();
    let lang = UserChanges {
        lang: Some("es".to_owned()),
        ..enable.clone()
    };
    s.update_user(&ctx(), ana.meta.id, 3, &lang).await.unwrap();
    assert!(s.user_by_session(&second, now).await.unwrap().is_some());
    // A token's user as remembered is forgotten by any change made through the store.
    assert_eq!(
        s.user_by_token(&secret)
            .await
            .unwrap()
            .unwrap()
            .lang
            .as_deref(),
        Some("es")
    );
    let password = UserChanges {
        password_hash: Some("$argon2id$new".to_owned()),
        ..lang
    };
    s.update_user(&ctx(), ana.meta.id, 4, &password)
        .await
        .unwrap();
    assert_eq!(s.user_by_session(&second, now).await.unwrap(), None);

    let third = [5u8; 32];
    s.create_session(&at(now), &third, ana.meta.id, now + Duration::hours(8))
        .await
        .unwrap();
    assert!(s.delete_session(&ctx(), &third).await.unwrap());
    assert_eq!(s.user_by_session(&third, now).await.unwrap(), None);
    assert!(!s.delete_session(&ctx(), &third).await.unwrap());

    // Tokens are listed without secrets and revoked for good.
    let tokens = s.list_tokens(Some(ana.meta.id)).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!((tokens[0].id, tokens[0].label.as_str()), (token, "ci"));
    assert_eq!(s.list_tokens(Some(Uuid::now_v7())).await.unwrap(), vec![]);
    assert_eq!(s.list_tokens(None).await.unwrap().len(), 1);
    s.revoke_token(&ctx(), token).await.unwrap();
    assert_eq!(s.user_by_token(&secret).await.unwrap(), None);
    assert!(matches!(
        s.revoke_token(&ctx(), token).await,
        Err(StoreError::NotFound { kind: "token", .. })
    ));

    let actions: Vec<String> = s
        .list_audit(None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry.action)
        .collect();
    for expected in ["login.success", "logout", "token.revoke"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected}: {actions:?}"
        );
    }
    // One logout: the second delete found nothing and wrote nothing.
    assert_eq!(actions.iter().filter(|a| *a == "logout").count(), 1);

    let audit = s.list_audit(None, 100).await.unwrap();
    let token_entry = audit
        .iter()
        .find(|e| e.entry.action == "token.create")
        .unwrap();
    assert_eq!(token_entry.entry.target, Some(token.to_string()));
    for e in &audit {
        assert!(
            !e.entry.detail.contains(&hex::encode(secret)),
            "secret hash in audit detail"
        );
    }
}

async fn commitments_filters_and_keyset_paging(h: H) {
    let s = h.s();
    let i1 = s
        .create_indicator(
            &ctx(),
            &meta(PartyCode::US),
            &indicator("SEIZED-KG", 0.0, 100.0),
        )
        .await
        .unwrap();
    let i2 = s
        .create_indicator(
            &ctx(),
            &meta(PartyCode::MX),
            &indicator("ARRESTS", 10.0, 50.0),
        )
        .await
        .unwrap();

    let base = date!(2025 - 01 - 01);
    let areas = ["fuel-theft", "arms-trafficking", "fentanyl"];
    let owners = [
        Owners::One(PartyCode::MX),
        Owners::One(PartyCode::US),
        Owners::new("/owners", &[PartyCode::US, PartyCode::MX]).unwrap(),
    ];
    let agencies = ["SEMAR", "DEA", "CBP", "FGR"];
    let mut created: Vec<Commitment> = Vec::new();
    for k in 0..31i64 {
        let start = days(base, (k * 37) % 200);
        let due = days(start, 30 + (k * 53) % 400);
        let inds = match k % 4 {
            0 => vec![],
            1 => vec![i1.meta.id],
            2 => vec![i2.meta.id, i1.meta.id],
            _ => vec![i2.meta.id],
        };
        let body = titled(
            k,
            areas[(k % 3) as usize],
            owners[(k % 5 % 3) as usize],
            agencies[(k % 4) as usize],
            start,
            due,
            inds,
        );
        let m = meta(if k % 2 == 0 {
            PartyCode::MX
        } else {
            PartyCode::US
        });
        let c = s.create_commitment(&ctx(), &m, &body).await.unwrap();
        assert_eq!(c.meta, m);
        assert_eq!(c.body, body);
        let expected = StatusSchedule::of(&StatusInputs {
            start,
            due,
            n_actions: 0,
            completed: false,
            progress: vec![None; body.indicators.len()],
        });
        assert_eq!(c.schedule, expected);
        assert_eq!(s.get_commitment(m.id).await.unwrap(), Some(c.clone()));
        created.push(c);
    }
    assert_eq!(s.get_commitment(Uuid::now_v7()).await.unwrap(), None);

    // A duplicate id is refused.
    let again = s
        .create_commitment(&ctx(), &created[0].meta, &created[0].body)
        .await
        .unwrap_err();
    assert!(
        matches!(
            again,
            StoreError::Duplicate {
                what: "commitment",
                pointer: "/id"
            }
        ),
        "{again:?}"
    );

    let today = date!(2025 - 06 - 15);
    let filters = vec![
        CommitmentFilter::default(),
        CommitmentFilter {
            area: Some(area("fentanyl")),
            ..Default::default()
        },
        CommitmentFilter {
            party: Some(PartyCode::US),
            ..Default::default()
        },
        CommitmentFilter {
            party: Some(PartyCode::MX),
            ..Default::default()
        },
        CommitmentFilter {
            agency: Some("DEA".into()),
            ..Default::default()
        },
        CommitmentFilter {
            due_from: Some(date!(2025 - 06 - 01)),
            ..Default::default()
        },
        CommitmentFilter {
            due_to: Some(date!(2025 - 09 - 30)),
            ..Default::default()
        },
        CommitmentFilter {
            due_from: Some(date!(2025 - 05 - 01)),
            due_to: Some(date!(2025 - 12 - 31)),
            party: Some(PartyCode::MX),
            ..Default::default()
        },
        CommitmentFilter {
            status: Some((Status::NotStarted, today)),
            ..Default::default()
        },
        CommitmentFilter {
            status: Some((Status::AtRisk, today)),
            ..Default::default()
        },
        CommitmentFilter {
            status: Some((Status::Overdue, date!(2026 - 01 - 01))),
            area: Some(area("fuel-theft")),
            ..Default::default()
        },
        CommitmentFilter {
            area: Some(area("no-such-area")),
            ..Default::default()
        },
        CommitmentFilter {
            party: Some(PartyCode::US),
            area: Some(area("fuel-theft")),
            status: Some((Status::NotStarted, date!(2025 - 03 - 01))),
            agency: Some("SEMAR".into()),
            ..Default::default()
        },
        CommitmentFilter {
            party: Some(PartyCode::US),
            due_from: Some(date!(2025 - 04 - 01)),
            status: Some((Status::AtRisk, today)),
            ..Default::default()
        },
    ];
    let mut filters = filters;
    // `e_1` names nothing: `_` must match an underscore, not any character ("fence 1").
    for text in ["tunnels", "VALLA", "100% v", "túneles 1", "fence 1", "e_1"] {
        filters.push(CommitmentFilter {
            text: Some(text.into()),
            ..Default::default()
        });
    }
    filters.push(CommitmentFilter {
        text: Some("valla".into()),
        party: Some(PartyCode::US),
        ..Default::default()
    });
    for f in &filters {
        let contains = |c: &Commitment, t: &str| {
            let t = t.to_ascii_lowercase();
            c.body.title.en().to_ascii_lowercase().contains(&t)
                || c.body.title.es().to_ascii_lowercase().contains(&t)
        };
        let matches = |c: &Commitment| {
            f.area.as_ref().is_none_or(|a| &c.body.area == a)
                && f.party.is_none_or(|p| c.body.owners.includes(p))
                && f.agency.as_ref().is_none_or(|a| &c.body.agency == a)
                && f.due_from.is_none_or(|d| c.body.due >= d)
                && f.due_to.is_none_or(|d| c.body.due <= d)
                && f.status
                    .is_none_or(|(st, day)| c.schedule.status_on(day) == st)
                && f.text.as_deref().is_none_or(|t| contains(c, t))
        };
        let mut expected: Vec<Commitment> =
            created.iter().filter(|c| matches(c)).cloned().collect();
        expected.sort_by_key(|c| c.meta.id);
        if f.area != Some(area("no-such-area")) && f.text.as_deref() != Some("e_1") {
            assert!(
                !expected.is_empty(),
                "filter {f:?} selects nothing: the check would be weak"
            );
        }
        for limit in [1u32, 4, 50] {
            let got = all_pages!(
                limit,
                |page| s.list_commitments(f, page),
                |c: &Commitment| c.meta.id
            );
            assert_eq!(got, expected, "filter {f:?}, limit {limit}");
        }
    }
    // A full last page still says there may be more; the page after it is empty.
    let first = s
        .list_commitments(
            &Default::default(),
            Page {
                after: None,
                limit: 31,
            },
        )
        .await;
    let first = first.unwrap();
    assert_eq!((first.items.len(), first.next), (31, None));
    let short = s
        .list_commitments(
            &Default::default(),
            Page {
                after: None,
                limit: 30,
            },
        )
        .await;
    let short = short.unwrap();
    assert_eq!(short.next, Some(short.items[29].meta.id));
    let rest = s
        .list_commitments(
            &Default::default(),
            Page {
                after: short.next,
                limit: 30,
            },
        )
        .await;
    assert_eq!(rest.unwrap().items.len(), 1);
}

async fn commitment_update_and_stale_version(h: H) {
    let s = h.s();
    let i1 = s
        .create_indicator(&ctx(), &meta(PartyCode::US), &indicator("A", 0.0, 10.0))
        .await
        .unwrap();
    let i2 = s
        .create_indicator(&ctx(), &meta(PartyCode::US), &indicator("B", 0.0, 10.0))
        .await
        .unwrap();
    let m = meta(PartyCode::MX);
    let body = commitment(
        "fuel-theft",
        Owners::One(PartyCode::MX),
        "SEMAR",
        date!(2025 - 01 - 01),
        date!(2025 - 12 - 31),
        vec![i1.meta.id],
    );
    s.create_commitment(&ctx(), &m, &body).await.unwrap();

    let new_body = commitment(
        "fentanyl",
        Owners::new("/owners", &[PartyCode::MX, PartyCode::US]).unwrap(),
        "SEMAR y CBP",
        date!(2025 - 02 - 01),
        date!(2026 - 06 - 30),
        vec![i2.meta.id, i1.meta.id],
    );
    let c = ctx();
    let updated = s.update_commitment(&c, m.id, 1, &new_body).await.unwrap();
    assert_eq!(updated.body, new_body);
    assert_eq!(
        updated.meta,
        RecordMeta {
            updated_at: c.now,
            version: 2,
            ..m.clone()
        }
    );
    assert_eq!(updated.schedule.due, date!(2026 - 06 - 30));
    assert_eq!(s.get_commitment(m.id).await.unwrap(), Some(updated.clone()));

    let stale = s
        .update_commitment(&ctx(), m.id, 1, &body)
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            StoreError::VersionConflict {
                kind: "commitment",
                current: 2,
                given: 1,
                ..
            }
        ),
        "{stale:?}"
    );
    let missing = s
        .update_commitment(&ctx(), Uuid::now_v7(), 1, &body)
        .await
        .unwrap_err();
    assert!(matches!(
        missing,
        StoreError::NotFound {
            kind: "commitment",
            ..
        }
    ));
    assert_eq!(s.get_commitment(m.id).await.unwrap(), Some(updated));
}

async fn unknown_indicator_writes_nothing(h: H) {
    let s = h.s();
    let known = s
        .create_indicator(&ctx(), &meta(PartyCode::US), &indicator("KNOWN", 0.0, 1.0))
        .await
        .unwrap();
    let before = audit_len(s).await;
    let m = meta(PartyCode::MX);
    let body = commitment(
        "fuel-theft",
        Owners::One(PartyCode::MX),
        "SEMAR",
        date!(2025 - 01 - 01),
        date!(2025 - 12 - 31),
        vec![known.meta.id, Uuid::now_v7()],
    );
    let err = s.create_commitment(&ctx(), &m, &body).await.unwrap_err();
    assert_eq!(
        invalid_at(&err),
        [("/indicators/1".to_owned(), FieldErrorCode::UnknownIndicator)]
    );
    assert_eq!(s.get_commitment(m.id).await.unwrap(), None);
    let listed = s
        .list_commitments(
            &Default::default(),
            Page {
                after: None,
                limit: 10,
            },
        )
        .await;
    assert!(listed.unwrap().items.is_empty());
    assert_eq!(audit_len(s).await, before);

    // An update naming an unknown indicator changes nothing either.
    let ok = commitment(
        "fuel-theft",
        Owners::One(PartyCode::MX),
        "SEMAR",
        date!(2025 - 01 - 01),
        date!(2025 - 12 - 31),
        vec![known.meta.id],
    );
    let created = s.create_commitment(&ctx(), &m, &ok).await.unwrap();
    let before = audit_len(s).await;
    let err = s
        .update_commitment(&ctx(), m.id, 1, &body)
        .await
        .unwrap_err();
    assert_eq!(
        invalid_at(&err),
        [("/indicators/1".to_owned(), FieldErrorCode::UnknownIndicator)]
    );
    assert_eq!(s.get_commitment(m.id).await.unwrap(), Some(created));
    assert_eq!(audit_len(s).await, before);
    assert_eq!(s.verify_audit().await.unwrap().first_bad, None);
}

async fn actions_recompute_the_schedule(h: H) {
    let s = h.s();
    let (start, due) = (date!(2025 - 01 - 01), date!(2025 - 12 - 31));
    let m = meta(PartyCode::MX);
    let c = s
        .create_commitment(&ctx(), &m, &simple_commitment(start, due))
        .await
        .unwrap();
    let inputs = |n_actions, completed| StatusInputs {
        start,
        due,
        n_actions,
        completed,
        progress: vec![],
    };
    assert_eq!(c.schedule, StatusSchedule::of(&inputs(0, false)));

    let am = meta(PartyCode::MX);
    let a1 = action(m.id, date!(2025 - 02 - 01), false);
    let created = s.create_action(&ctx(), &am, &a1).await.unwrap();
    assert_eq!(
        created,
        Action {
            meta: am.clone(),
            body: a1.clone()
        }
    );
    assert_eq!(s.get_action(am.id).await.unwrap(), Some(created.clone()));
    let after_one = s.get_commitment(m.id).await.unwrap().unwrap();
    assert_eq!(after_one.schedule, StatusSchedule::of(&inputs(1, false)));
    assert_ne!(after_one.schedule, c.schedule);
    // Recomputing the schedule is not an update of the commitment.
    assert_eq!(after_one.meta, c.meta);

    let bm = meta(PartyCode::US);
    s.create_action(&ctx(), &bm, &action(m.id, date!(2025 - 03 - 01), true))
        .await
        .unwrap();
    let done = s.get_commitment(m.id).await.unwrap().unwrap();
    assert_eq!(done.schedule, StatusSchedule::of(&inputs(2, true)));
    assert_eq!(done.schedule.status_on(date!(2030 - 01 - 01)), Status::Done);

    // Un-completing the action makes it not done again.
    let c2 = ctx();
    let undone = s
        .update_action(&c2, bm.id, 1, &action(m.id, date!(2025 - 03 - 02), false))
        .await
        .unwrap();
    assert_eq!(
        undone.meta,
        RecordMeta {
            updated_at: c2.now,
            version: 2,
            ..bm.clone()
        }
    );
    assert_eq!(undone.body.date, date!(2025 - 03 - 02));
    let again = s.get_commitment(m.id).await.unwrap().unwrap();
    assert_eq!(again.schedule, StatusSchedule::of(&inputs(2, false)));

    // The commitment of an action cannot change; a stale version is refused.
    let other = s
        .create_commitment(&ctx(), &meta(PartyCode::MX), &simple_commitment(start, due))
        .await
        .unwrap();
    let moved = s
        .update_action(&ctx(), bm.id, 2, &action(other.meta.id, start, false))
        .await;
    assert_eq!(
        invalid_at(&moved.unwrap_err()),
        [("/commitment".to_owned(), FieldErrorCode::OutOfRange)]
    );
    let stale = s
        .update_action(&ctx(), bm.id, 1, &action(m.id, start, false))
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            StoreError::VersionConflict {
                kind: "action",
                current: 2,
                given: 1,
                ..
            }
        ),
        "{stale:?}"
    );
    let missing = s
        .update_action(&ctx(), Uuid::now_v7(), 1, &a1)
        .await
        .unwrap_err();
    assert!(matches!(
        missing,
        StoreError::NotFound { kind: "action", .. }
    ));

    // An action on a missing commitment is refused and writes nothing.
    let before = audit_len(s).await;
    let orphan = meta(PartyCode::MX);
    let err = s
        .create_action(&ctx(), &orphan, &action(Uuid::now_v7(), start, false))
        .await;
    assert_eq!(
        invalid_at(&err.unwrap_err()),
        [("/commitment".to_owned(), FieldErrorCode::UnknownCommitment)]
    );
    assert_eq!(s.get_action(orphan.id).await.unwrap(), None);
    assert_eq!(audit_len(s).await, before);

    // Listing with every filter, across pages.
    for k in 0..9 {
        let party = if k % 3 == 0 {
            PartyCode::US
        } else {
            PartyCode::MX
        };
        let target = if k % 2 == 0 { m.id } else { other.meta.id };
        let mut body = action(target, days(date!(2025 - 04 - 01), k * 10), false);
        if k % 4 == 0 {
            body = ActionDraft::new(
                target,
                body.date,
                "DEA",
                body.description.clone(),
                vec![],
                vec![],
                false,
            )
            .unwrap();
        }
        s.create_action(&ctx(), &meta(party), &body).await.unwrap();
    }
    let everything = all_pages!(
        1000,
        |page| s.list_actions(&Default::default(), page),
        |a: &Action| a.meta.id
    );
    assert_eq!(everything.len(), 11);
    let filters = [
        ActionFilter::default(),
        ActionFilter {
            commitment: Some(m.id),
            ..Default::default()
        },
        ActionFilter {
            party: Some(PartyCode::US),
            ..Default::default()
        },
        ActionFilter {
            agency: Some("DEA".into()),
            ..Default::default()
        },
        ActionFilter {
            date_from: Some(date!(2025 - 04 - 15)),
            ..Default::default()
        },
        ActionFilter {
            date_from: Some(date!(2025 - 04 - 15)),
            date_to: Some(date!(2025 - 05 - 15)),
            commitment: Some(other.meta.id),
            ..Default::default()
        },
    ];
    for f in &filters {
        let expected: Vec<Action> = everything
            .iter()
            .filter(|a| {
                f.commitment.is_none_or(|c| a.body.commitment == c)
                    && f.party.is_none_or(|p| a.meta.origin == p)
                    && f.agency.as_ref().is_none_or(|g| &a.body.agency == g)
                    && f.date_from.is_none_or(|d| a.body.date >= d)
                    && f.date_to.is_none_or(|d| a.body.date <= d)
            })
            .cloned()
            .collect();
        let got = all_pages!(2, |page| s.list_actions(f, page), |a: &Action| a.meta.id);
        assert_eq!(got, expected, "{f:?}");
    }
    let n_on_m = everything
        .iter()
        .filter(|a| a.body.commitment == m.id)
        .count() as u64;
    let on_m = s.get_commitment(m.id).await.unwrap().unwrap();
    assert_eq!(on_m.schedule, StatusSchedule::of(&inputs(n_on_m, false)));
}

async fn measurements_are_unique_and_drive_status(h: H) {
    let s = h.s();
    let im = meta(PartyCode::US);
    let ind = s
        .create_indicator(&ctx(), &im, &indicator("SEIZED", 0.0, 100.0))
        .await
        .unwrap();
    assert_eq!(s.get_indicator(im.id).await.unwrap(), Some(ind.clone()));
    assert_eq!(
        s.indicator_by_code("SEIZED").await.unwrap(),
        Some(ind.clone())
    );
    assert_eq!(s.indicator_by_code("NOPE").await.unwrap(), None);
    let dup = s
        .create_indicator(&ctx(), &meta(PartyCode::MX), &indicator("SEIZED", 1.0, 2.0))
        .await;
    assert!(matches!(
        dup.unwrap_err(),
        StoreError::Duplicate {
            what: "indicator",
            pointer: "/code"
        }
    ));

    let (start, due) = (date!(2025 - 01 - 01), date!(2025 - 12 - 31));
    let cm = meta(PartyCode::MX);
    let body = commitment(
        "fuel-theft",
        Owners::One(PartyCode::MX),
        "SEMAR",
        start,
        due,
        vec![im.id],
    );
    s.create_commitment(&ctx(), &cm, &body).await.unwrap();
    s.create_action(&ctx(), &meta(PartyCode::MX), &action(cm.id, start, false))
        .await
        .unwrap();
    let schedule_with = |progress: Option<f64>| {
        StatusSchedule::of(&StatusInputs {
            start,
            due,
            n_actions: 1,
            completed: false,
            progress: vec![progress],
        })
    };
    assert_eq!(schedule_of(s, cm.id).await, schedule_with(None));

    let mm = meta(PartyCode::MX);
    let m1 = measurement(im.id, "2025Q2", PartyCode::MX, 30.0);
    let created = s.create_measurement(&ctx(), &mm, &m1).await.unwrap();
    assert_eq!(created.body, m1);
    assert_eq!(created.meta, mm);
    assert_eq!(schedule_of(s, cm.id).await, schedule_with(Some(0.3)));

    // The other party's share of the same period adds up.
    s.create_measurement(
        &ctx(),
        &meta(PartyCode::US),
        &measurement(im.id, "2025Q2", PartyCode::US, 20.0),
    )
    .await
    .unwrap();
    assert_eq!(schedule_of(s, cm.id).await, schedule_with(Some(0.5)));

    // One measurement per indicator, period and party.
    let before = audit_len(s).await;
    let dup = s
        .create_measurement(
            &ctx(),
            &meta(PartyCode::MX),
            &measurement(im.id, "2025Q2", PartyCode::MX, 99.0),
        )
        .await;
    assert!(matches!(
        dup.unwrap_err(),
        StoreError::Duplicate {
            what: "measurement",
            pointer: "/period"
        }
    ));
    assert_eq!(audit_len(s).await, before);
    let unknown = s
        .create_measurement(
            &ctx(),
            &meta(PartyCode::MX),
            &measurement(Uuid::now_v7(), "2025Q2", PartyCode::MX, 1.0),
        )
        .await;
    assert_eq!(
        invalid_at(&unknown.unwrap_err()),
        [("/indicator".to_owned(), FieldErrorCode::UnknownIndicator)]
    );

    // A later measurement meeting the target makes the commitment done.
    let c = ctx();
    let met = measurement(im.id, "2025Q3", PartyCode::MX, 100.0);
    let updated = s.update_measurement(&c, mm.id, 1, &met).await.unwrap();
    assert_eq!(
        updated.meta,
        RecordMeta {
            updated_at: c.now,
            version: 2,
            ..mm.clone()
        }
    );
    assert_eq!(schedule_of(s, cm.id).await, schedule_with(Some(1.0)));
    assert!(schedule_of(s, cm.id).await.done);
    let stale = s
        .update_measurement(&ctx(), mm.id, 1, &met)
        .await
        .unwrap_err();
    assert!(matches!(
        stale,
        StoreError::VersionConflict {
            current: 2,
            given: 1,
            ..
        }
    ));
    let list = s.list_measurements(im.id).await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.contains(&updated));

    // Raising the target through an indicator update recomputes the commitment.
    let harder = indicator("SEIZED", 0.0, 400.0);
    let ind2 = s.update_indicator(&ctx(), im.id, 1, &harder).await.unwrap();
    assert_eq!(ind2.body, harder);
    assert_eq!(ind2.meta.version, 2);
    assert_eq!(schedule_of(s, cm.id).await, schedule_with(Some(0.25)));
    assert!(!schedule_of(s, cm.id).await.done);

    // Renaming to an existing code is a duplicate; changing a measurement's indicator is refused.
    s.create_indicator(&ctx(), &meta(PartyCode::MX), &indicator("OTHER", 0.0, 1.0))
        .await
        .unwrap();
    let clash = s
        .update_indicator(&ctx(), im.id, 2, &indicator("OTHER", 0.0, 1.0))
        .await;
    assert!(matches!(
        clash.unwrap_err(),
        StoreError::Duplicate {
            what: "indicator",
            pointer: "/code"
        }
    ));
    let moved = s
        .update_measurement(
            &ctx(),
            mm.id,
            2,
            &measurement(Uuid::now_v7(), "2025", PartyCode::MX, 1.0),
        )
        .await;
    assert_eq!(
        invalid_at(&moved.unwrap_err()),
        [("/indicator".to_owned(), FieldErrorCode::OutOfRange)]
    );

    let filtered = s
        .list_indicators(
            &IndicatorFilter {
                area: Some(area("fuel-theft")),
            },
            Page {
                after: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(filtered.items.len(), 2);
    let none = s
        .list_indicators(
            &IndicatorFilter {
                area: Some(area("fentanyl")),
            },
            Page {
                after: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert!(none.items.is_empty());
}

/// The SQL status filter agrees with `StatusSchedule::status_on`, and the stored schedule with
/// `StatusSchedule::of`, for a deterministic spread of commitments and days covering every
/// status.
async fn status_filter_agrees_with_status_on(h: H) {
    let s = h.s();
    let base = date!(2025 - 01 - 01);
    // Indicators with different progress: none yet, behind, partway, met, beyond.
    let levels: [Option<f64>; 6] = [
        None,
        Some(-20.0),
        Some(10.0),
        Some(50.0),
        Some(100.0),
        Some(130.0),
    ];
    let mut indicators = Vec::new();
    for (n, level) in levels.iter().enumerate() {
        let m = meta(PartyCode::US);
        let draft = indicator(&format!("LEVEL-{n}"), 0.0, 100.0);
        s.create_indicator(&ctx(), &m, &draft).await.unwrap();
        let mut ms = Vec::new();
        if let Some(v) = level {
            let md = measurement(m.id, "2025-03", PartyCode::MX, *v);
            s.create_measurement(&ctx(), &meta(PartyCode::MX), &md)
                .await
                .unwrap();
            ms.push(md);
        }
        indicators.push((m.id, draft.progress(&ms)));
    }

    let mut expected_schedules = BTreeMap::new();
    for k in 0..48i64 {
        let start = days(base, (k * 37) % 300);
        let due = days(start, (k * 53) % 200);
        let n_actions = (k % 3) as u64;
        let completed = n_actions > 0 && k % 11 == 0;
        let served: Vec<(Uuid, Option<f64>)> = match k % 5 {
            0 => vec![],
            1 => vec![indicators[(k % 6) as usize]],
            2 => vec![
                indicators[(k % 6) as usize],
                indicators[((k + 2) % 6) as usize],
            ],
            3 => vec![indicators[4], indicators[5]],
            _ => vec![indicators[((k + 1) % 6) as usize]],
        };
        let mut ids: Vec<Uuid> = served.iter().map(|x| x.0).collect();
        ids.dedup();
        let served: Vec<(Uuid, Option<f64>)> = ids
            .iter()
            .map(|id| *indicators.iter().find(|x| x.0 == *id).unwrap())
            .collect();
        let m = meta(PartyCode::MX);
        let body = commitment(
            "fuel-theft",
            Owners::One(PartyCode::MX),
            "SEMAR",
            start,
            due,
            ids,
        );
        s.create_commitment(&ctx(), &m, &body).await.unwrap();
        let completing: Vec<bool> = (0..n_actions)
            .map(|a| completed && a + 1 == n_actions)
            .collect();
        record_actions(s, m.id, start, &completing).await;
        let inputs = StatusInputs {
            start,
            due,
            n_actions,
            completed,
            progress: served.iter().map(|x| x.1).collect(),
        };
        expected_schedules.insert(m.id, StatusSchedule::of(&inputs));
    }

    let all = all_pages!(
        1000,
        |page| s.list_commitments(&Default::default(), page),
        |c: &Commitment| c.meta.id
    );
    assert_eq!(all.len(), expected_schedules.len());
    for c in &all {
        assert_eq!(
            Some(&c.schedule),
            expected_schedules.get(&c.meta.id),
            "{:?}",
            c.meta.id
        );
    }

    let mut seen = BTreeSet::new();
    let mut day = days(base, -20);
    while day <= days(base, 520) {
        for status in Status::ALL {
            let f = CommitmentFilter {
                status: Some((status, day)),
                ..Default::default()
            };
            let got: BTreeSet<Uuid> = all_pages!(
                1000,
                |page| s.list_commitments(&f, page),
                |c: &Commitment| c.meta.id
            )
            .iter()
            .map(|c| c.meta.id)
            .collect();
            let expected: BTreeSet<Uuid> = expected_schedules
                .iter()
                .filter(|(_, sched)| sched.status_on(day) == status)
                .map(|(id, _)| *id)
                .collect();
            assert_eq!(got, expected, "{status} on {day}");
            if !expected.is_empty() {
                seen.insert(status);
            }
        }
        // The aggregate counts agree with the lists, with and without an agency.
        for agency in [None, Some("SEMAR"), Some("CBP")] {
            let counts = s.count_commitments(agency, day).await.unwrap();
            for status in Status::ALL {
                let expected = match agency {
                    Some("CBP") => 0,
                    _ => expected_schedules
                        .values()
                        .filter(|sched| sched.status_on(day) == status)
                        .count() as u64,
                };
                let got: Vec<u64> = counts
                    .iter()
                    .filter(|(a, st, _)| a.as_str() == "fuel-theft" && *st == status)
                    .map(|c| c.2)
                    .collect();
                let want = if expected == 0 {
                    vec![]
                } else {
                    vec![expected]
                };
                assert_eq!(got, want, "count of {status} on {day} ({agency:?})");
            }
            assert!(
                counts
                    .iter()
                    .all(|c| c.0.as_str() == "fuel-theft" && c.2 > 0)
            );
        }
        day = days(day, 13);
    }
    assert_eq!(
        seen.len(),
        Status::ALL.len(),
        "the grid must cover every status: {seen:?}"
    );
}

fn follow_up(title: &str, owner: PartyCode, due: Date, completed_on: Option<Date>) -> FollowUp {
    FollowUp {
        id: Uuid::now_v7(),
        title: text(title),
        owner,
        due,
        completed_on,
    }
}

async fn meetings_round_trip(h: H) {
    let s = h.s();
    let d = date!(2025 - 09 - 03);
    let body = MeetingDraft::new(
        d,
        "Palacio Nacional, Ciudad de México",
        vec!["Ana (SRE)".into(), "Bob (DOS)".into()],
        vec![MeetingDecision {
            text: text("Share tunnel data weekly"),
        }],
        vec![
            follow_up(
                "Report seizures",
                PartyCode::MX,
                date!(2025 - 10 - 01),
                None,
            ),
            follow_up("Send liaison list", PartyCode::US, d, Some(d)),
        ],
    )
    .unwrap();
    let m = meta(PartyCode::MX);
    let created = s.create_meeting(&ctx(), &m, &body).await.unwrap();
    assert_eq!(created.meta, m);
    assert_eq!(created.body, body);
    assert_eq!(s.get_meeting(m.id).await.unwrap(), Some(created.clone()));
    assert_eq!(s.get_meeting(Uuid::now_v7()).await.unwrap(), None);

    // Follow-up ids are unique across meetings.
    let reuse = MeetingDraft::new(
        d,
        "Washington",
        vec![],
        vec![],
        vec![body.follow_ups[0].clone()],
    );
    let err = s
        .create_meeting(&ctx(), &meta(PartyCode::US), &reuse.unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Duplicate {
                what: "follow-up",
                ..
            }
        ),
        "{err:?}"
    );

    let mut fus = body.follow_ups.clone();
    fus[0].completed_on = Some(date!(2025 - 09 - 20));
    fus.reverse();
    fus.push(follow_up(
        "New task",
        PartyCode::US,
        date!(2025 - 12 - 01),
        None,
    ));
    let new_body = MeetingDraft::new(d, "Palacio Nacional", vec![], vec![], fus).unwrap();
    let c = ctx();
    let updated = s.update_meeting(&c, m.id, 1, &new_body).await.unwrap();
    assert_eq!(updated.body, new_body);
    assert_eq!(
        updated.meta,
        RecordMeta {
            updated_at: c.now,
            version: 2,
            ..m.clone()
        }
    );
    assert_eq!(s.get_meeting(m.id).await.unwrap(), Some(updated));
    let stale = s.update_meeting(&ctx(), m.id, 1, &body).await.unwrap_err();
    assert!(matches!(
        stale,
        StoreError::VersionConflict {
            kind: "meeting",
            current: 2,
            ..
        }
    ));

    for (k, date) in [
        date!(2025 - 01 - 10),
        date!(2025 - 05 - 05),
        date!(2026 - 02 - 01),
    ]
    .into_iter()
    .enumerate()
    {
        let b = MeetingDraft::new(date, &format!("Place {k}"), vec![], vec![], vec![]).unwrap();
        s.create_meeting(&ctx(), &meta(PartyCode::US), &b)
            .await
            .unwrap();
    }
    let in_range = all_pages!(
        1,
        |page| s.list_meetings(
            &MeetingFilter {
                date_from: Some(date!(2025 - 05 - 01)),
                date_to: Some(d)
            },
            page
        ),
        |m: &puente_domain::Meeting| m.meta.id
    );
    let dates: BTreeSet<Date> = in_range.iter().map(|m| m.body.date).collect();
    assert_eq!(dates, BTreeSet::from([date!(2025 - 05 - 05), d]));
    let all = all_pages!(
        3,
        |page| s.list_meetings(&Default::default(), page),
        |m: &puente_domain::Meeting| m.meta.id
    );
    assert_eq!(all.len(), 4);

    assert_eq!(
        s.previous_meeting_date(d, m.id).await.unwrap(),
        Some(date!(2025 - 05 - 05))
    );
    assert_eq!(
        s.previous_meeting_date(date!(2026 - 01 - 01), Uuid::nil())
            .await
            .unwrap(),
        Some(d)
    );
    assert_eq!(
        s.previous_meeting_date(d, Uuid::nil()).await.unwrap(),
        Some(date!(2025 - 05 - 05))
    );
    assert_eq!(
        s.previous_meeting_date(date!(2025 - 01 - 10), Uuid::nil())
            .await
            .unwrap(),
        None
    );
}

async fn agenda_candidates_build_the_expected_agenda(h: H) {
    let s = h.s();
    let d1 = date!(2025 - 06 - 01);
    let d2 = date!(2025 - 09 - 01);
    let jan = date!(2025 - 01 - 01);

    let mut commitments = BTreeMap::new();
    // name -> (start, due, actions as completes flags)
    let specs: [(&str, Date, Date, &[bool]); 5] = [
        ("overdue", jan, date!(2025 - 08 - 01), &[false]),
        ("at-risk", d1, date!(2025 - 12 - 31), &[]),
        ("done-due-in-window", jan, date!(2025 - 07 - 15), &[true]),
        ("done-before-window", jan, date!(2025 - 05 - 01), &[true]),
        ("on-track", jan, date!(2026 - 12 - 31), &[false]),
    ];
    for (name, start, due, actions) in specs {
        let m = meta(PartyCode::MX);
        s.create_commitment(&ctx(), &m, &simple_commitment(start, due))
            .await
            .unwrap();
        record_actions(s, m.id, start, actions).await;
        commitments.insert(name, m.id);
    }

    let f_at_risk = follow_up("at risk", PartyCode::MX, date!(2025 - 09 - 04), None);
    let f_done = follow_up(
        "done",
        PartyCode::US,
        date!(2025 - 07 - 01),
        Some(date!(2025 - 06 - 20)),
    );
    let f_later = follow_up("later", PartyCode::US, date!(2025 - 10 - 15), None);
    let f_overdue = follow_up("overdue", PartyCode::MX, date!(2025 - 08 - 27), None);
    let m1 = meta(PartyCode::MX);
    let b1 = MeetingDraft::new(
        d1,
        "Mexico City",
        vec![],
        vec![],
        vec![
            f_at_risk.clone(),
            f_done.clone(),
            f_later.clone(),
            f_overdue.clone(),
        ],
    )
    .unwrap();
    s.create_meeting(&ctx(), &m1, &b1).await.unwrap();
    let own = follow_up("own", PartyCode::US, date!(2025 - 09 - 02), None);
    let m2 = meta(PartyCode::US);
    let b2 = MeetingDraft::new(d2, "Washington", vec![], vec![], vec![own.clone()]).unwrap();
    s.create_meeting(&ctx(), &m2, &b2).await.unwrap();
    let m3 = meta(PartyCode::US);
    let b3 = MeetingDraft::new(date!(2025 - 11 - 01), "El Paso", vec![], vec![], vec![]).unwrap();
    s.create_meeting(&ctx(), &m3, &b3).await.unwrap();

    let previous = s.previous_meeting_date(d2, m2.id).await.unwrap();
    assert_eq!(previous, Some(d1));
    let candidates = s.agenda_candidates(d2, previous, m2.id).await.unwrap();
    let agenda = build_agenda(d2, previous, candidates.clone());
    let got: Vec<(AgendaReason, AgendaSubject)> =
        agenda.iter().map(|i| (i.reason, i.subject)).collect();
    let fu = |f: &FollowUp| AgendaSubject::FollowUp {
        meeting: m1.id,
        follow_up: f.id,
    };
    let cm = |n: &str| AgendaSubject::Commitment(commitments[n]);
    assert_eq!(
        got,
        vec![
            (AgendaReason::Overdue, cm("overdue")),
            (AgendaReason::Overdue, fu(&f_overdue)),
            (AgendaReason::AtRisk, fu(&f_at_risk)),
            (AgendaReason::AtRisk, cm("at-risk")),
            (AgendaReason::Due, fu(&f_done)),
            (AgendaReason::Due, cm("done-due-in-window")),
        ]
    );

    // The candidates' schedules are the records' own, and no qualifying item is missing: the
    // agenda built from every record is the same.
    let mut everything = Vec::new();
    for id in commitments.values() {
        let c = s.get_commitment(*id).await.unwrap().unwrap();
        everything.push((AgendaSubject::Commitment(*id), c.schedule));
    }
    for f in &b1.follow_ups {
        everything.push((fu(f), f.schedule(d1)));
    }
    for (subject, schedule) in &candidates {
        assert!(everything.contains(&(*subject, *schedule)), "{subject:?}");
    }
    assert_eq!(build_agenda(d2, previous, everything.clone()), agenda);

    // Without a previous meeting every due item up to the day qualifies.
    let first = build_agenda(
        d2,
        None,
        s.agenda_candidates(d2, None, m2.id).await.unwrap(),
    );
    assert_eq!(first, build_agenda(d2, None, everything));
    assert!(first.iter().any(|i| i.subject == cm("done-before-window")));
}

async fn agenda_head_is_the_head_of_the_agenda(h: H) {
    let s = h.s();
    let jan = date!(2025 - 01 - 01);
    for k in 0..40i64 {
        let start = days(jan, (k * 23) % 300);
        let due = days(start, 30 + (k * 47) % 300);
        let m = meta(PartyCode::MX);
        s.create_commitment(&ctx(), &m, &simple_commitment(start, due))
            .await
            .unwrap();
        let completing: Vec<bool> = (0..(k % 3)).map(|a| k % 5 == 0 && a == 0).collect();
        record_actions(s, m.id, start, &completing).await;
    }
    let follow_ups = vec![
        follow_up("a", PartyCode::MX, date!(2025 - 07 - 01), None),
        follow_up("b", PartyCode::US, date!(2025 - 09 - 10), None),
        follow_up(
            "c",
            PartyCode::US,
            date!(2025 - 08 - 01),
            Some(date!(2025 - 07 - 20)),
        ),
    ];
    let held = meta(PartyCode::MX);
    let b = MeetingDraft::new(jan, "Monterrey", vec![], vec![], follow_ups).unwrap();
    s.create_meeting(&ctx(), &held, &b).await.unwrap();
    let this = Uuid::now_v7();

    let mut reasons = BTreeSet::new();
    for date in [
        date!(2025 - 06 - 01),
        date!(2025 - 09 - 15),
        date!(2026 - 01 - 10),
    ] {
        for previous in [None, Some(days(date, -90))] {
            let all = build_agenda(
                date,
                previous,
                s.agenda_candidates(date, previous, this).await.unwrap(),
            );
            reasons.extend(all.iter().map(|i| i.reason));
            let commitments = all
                .iter()
                .filter(|i| matches!(i.subject, AgendaSubject::Commitment(_)))
                .count() as u64;
            for first in [0, 1, 2, 3, 7, 100] {
                let (head, n) = s.agenda_head(date, previous, this, first).await.unwrap();
                let got = build_agenda(date, previous, head);
                assert_eq!(
                    got.into_iter().take(first).collect::<Vec<_>>(),
                    all.iter().take(first).cloned().collect::<Vec<_>>(),
                    "first {first} on {date} since {previous:?}"
                );
                assert_eq!(n, commitments, "on {date} since {previous:?}");
            }
        }
    }
    assert_eq!(
        reasons.len(),
        3,
        "the dates must give every reason: {reasons:?}"
    );

    // Many commitments at once are what one at a time gives; unknown ids are left out.
    let mut all = all_pages!(
        1000,
        |page| s.list_commitments(&Default::default(), page),
        |c: &Commitment| c.meta.id
    );
    let mut ids: Vec<Uuid> = all.iter().map(|c| c.meta.id).collect();
    ids.push(Uuid::now_v7());
    let mut got = s.get_commitments(&ids).await.unwrap();
    got.sort_by_key(|c| c.meta.id);
    all.sort_by_key(|c| c.meta.id);
    assert_eq!(got, all);
}

/// Every commitment's status on `day` from its record, counted per area (of `agency` only, when
/// given): what `count_commitments` must answer.
async fn counted_from_records(
    s: &dyn Store,
    agency: Option<&str>,
    day: Date,
) -> BTreeMap<(String, Status), u64> {
    let all = all_pages!(
        1000,
        |page| s.list_commitments(&Default::default(), page),
        |c: &Commitment| c.meta.id
    );
    let mut out = BTreeMap::new();
    for c in all
        .iter()
        .filter(|c| agency.is_none_or(|a| c.body.agency == a))
    {
        *out.entry((c.body.area.to_string(), c.schedule.status_on(day)))
            .or_default() += 1;
    }
    out
}

async fn assert_counts_agree(s: &dyn Store, after: &str) {
    let mut day = date!(2024 - 10 - 01);
    while day <= date!(2028 - 01 - 01) {
        for agency in [None, Some("SEMAR"), Some("CBP"), Some("FGR")] {
            let got: BTreeMap<(String, Status), u64> = s
                .count_commitments(agency, day)
                .await
                .unwrap()
                .into_iter()
                .map(|(a, st, n)| ((a.to_string(), st), n))
                .collect();
            assert_eq!(
                got,
                counted_from_records(s, agency, day).await,
                "{after}: on {day} for {agency:?}"
            );
        }
        day = days(day, 29);
    }
}

/// `count_actions` against the actions listed, and the newest-first page against them sorted.
async fn assert_action_counts_agree(s: &dyn Store, after: &str) {
    let all = all_pages!(
        1000,
        |page| s.list_actions(&Default::default(), page),
        |a: &Action| a.meta.id
    );
    for (from, to) in [
        (date!(2024 - 10 - 01), date!(2025 - 03 - 31)),
        (date!(2025 - 01 - 01), date!(2025 - 12 - 31)),
        (date!(2025 - 06 - 15), date!(2025 - 06 - 15)),
        (date!(2020 - 01 - 01), date!(2030 - 12 - 31)),
    ] {
        for agency in [None, Some("Fiscalía General"), Some("SEDENA"), Some("CBP")] {
            let mut want: Vec<&Action> = all
                .iter()
                .filter(|a| a.body.date >= from && a.body.date <= to)
                .filter(|a| agency.is_none_or(|x| a.body.agency == x))
                .collect();
            assert_eq!(
                s.count_actions(agency, from, to).await.unwrap(),
                want.len() as u64,
                "{after}: actions in {from}..={to} of {agency:?}"
            );
            want.sort_by_key(|a| std::cmp::Reverse((a.body.date, a.meta.id)));
            let f = ActionFilter {
                agency: agency.map(str::to_owned),
                date_from: Some(from),
                date_to: Some(to),
                latest_first: true,
                ..Default::default()
            };
            let latest = s
                .list_actions(
                    &f,
                    Page {
                        after: None,
                        limit: 3,
                    },
                )
                .await
                .unwrap();
            assert_eq!(latest.next, None);
            let ids: Vec<Uuid> = latest.items.iter().map(|a| a.meta.id).collect();
            let want: Vec<Uuid> = want.iter().take(3).map(|a| a.meta.id).collect();
            assert_eq!(ids, want, "{after}: latest in {from}..={to} of {agency:?}");
        }
    }
}

async fn status_counts_follow_every_write(h: H) {
    let s = h.s();
    // Each write moves the base day of the counts to its own day: writes on many days, some
    // earlier than the base day already is.
    let on = |d: Date| WriteCtx {
        now: d.with_hms(12, 0, 0).unwrap().assume_utc(),
        ..ctx()
    };
    let jan = date!(2025 - 01 - 01);
    let i1 = s
        .create_indicator(&on(jan), &meta(PartyCode::US), &indicator("C1", 0.0, 10.0))
        .await
        .unwrap();
    let i2 = s
        .create_indicator(&on(jan), &meta(PartyCode::US), &indicator("C2", 0.0, 10.0))
        .await
        .unwrap();
    let mut made = Vec::new();
    for k in 0..24i64 {
        let start = days(jan, (k * 41) % 300);
        let due = days(start, 20 + (k * 67) % 400);
        let area_code = ["fuel-theft", "border-security"][(k % 2) as usize];
        let agency = ["SEMAR", "CBP", "FGR"][(k % 3) as usize];
        let served = if k % 4 == 0 { vec![i1.meta.id] } else { vec![] };
        let m = meta(PartyCode::MX);
        let body = commitment(
            area_code,
            Owners::One(PartyCode::MX),
            agency,
            start,
            due,
            served,
        );
        s.create_commitment(&on(days(jan, k * 17)), &m, &body)
            .await
            .unwrap();
        made.push((m.id, start));
    }
    assert_counts_agree(s, "creating").await;

    for (k, (id, start)) in made.iter().enumerate().step_by(3) {
        s.create_action(
            &on(days(*start, 5)),
            &meta(PartyCode::MX),
            &action(*id, *start, k % 2 == 0),
        )
        .await
        .unwrap();
    }
    assert_counts_agree(s, "actions").await;
    assert_action_counts_agree(s, "actions").await;

    // An action moved to another day and agency moves its count.
    let first = all_pages!(
        1000,
        |page| s.list_actions(&Default::default(), page),
        |a: &Action| a.meta.id
    )
    .remove(0);
    let mut moved_body = first.body.clone();
    moved_body.date = date!(2025 - 06 - 15);
    moved_body.agency = "SEDENA".into();
    s.update_action(&ctx(), first.meta.id, first.meta.version, &moved_body)
        .await
        .unwrap();
    assert_action_counts_agree(s, "an action moved").await;

    // Progress on the indicator moves every commitment serving it.
    s.create_measurement(
        &on(date!(2026 - 02 - 01)),
        &meta(PartyCode::MX),
        &measurement(i1.meta.id, "2025", PartyCode::MX, 9.5),
    )
    .await
    .unwrap();
    assert_counts_agree(s, "a measurement").await;

    // Another agency, area and due date, written on a day before the base day.
    let (moved, _) = made[1];
    let before = s.get_commitment(moved).await.unwrap().unwrap();
    s.update_commitment(
        &on(date!(2025 - 06 - 01)),
        moved,
        before.meta.version,
        &commitment(
            "fentanyl",
            Owners::One(PartyCode::MX),
            "FGR",
            date!(2025 - 02 - 01),
            date!(2027 - 03 - 01),
            vec![i2.meta.id],
        ),
    )
    .await
    .unwrap();
    assert_counts_agree(s, "an update").await;

    let (cs, acts) = import_batch(12, &[i1.meta.id, i2.meta.id], made[0].0);
    s.import(&on(date!(2027 - 05 - 01)), &cs, &acts)
        .await
        .unwrap();
    assert_counts_agree(s, "an import").await;
    assert_action_counts_agree(s, "an import").await;

    // A database from before the counts gets them built from its records when opened.
    h.raw("DELETE FROM status_counts_state").await;
    h.raw("UPDATE status_counts SET n = n + 5").await;
    h.raw("UPDATE action_days SET n = n + 5").await;
    h.ensure_status_counts().await;
    assert_counts_agree(s, "building afresh").await;
    assert_action_counts_agree(s, "building afresh").await;
}

async fn audit_records_every_write_and_detects_tampering(h: H) {
    let s = h.s();
    let c = WriteCtx {
        now: OffsetDateTime::now_utc(),
        ..ctx()
    };
    s.init_node(&c, PartyCode::US).await.unwrap();
    let u = s.create_user(&ctx(), &user("ana")).await.unwrap();
    let ch = UserChanges {
        role: Role::Administrator,
        agency: None,
        disabled: false,
        lang: None,
        password_hash: Some("$argon2id$secret-hash".into()),
    };
    s.update_user(&ctx(), u.meta.id, 1, &ch).await.unwrap();
    s.create_token(&ctx(), Uuid::now_v7(), u.meta.id, &[5; 32], "cli")
        .await
        .unwrap();
    let im = meta(PartyCode::US);
    s.create_indicator(&ctx(), &im, &indicator("X", 0.0, 1.0))
        .await
        .unwrap();
    s.update_indicator(&ctx(), im.id, 1, &indicator("X", 0.0, 2.0))
        .await
        .unwrap();
    let cm = meta(PartyCode::US);
    let (start, due) = (date!(2025 - 01 - 01), date!(2025 - 06 - 30));
    s.create_commitment(&ctx(), &cm, &simple_commitment(start, due))
        .await
        .unwrap();
    s.update_commitment(
        &ctx(),
        cm.id,
        1,
        &simple_commitment(start, date!(2025 - 07 - 31)),
    )
    .await
    .unwrap();
    let am = meta(PartyCode::US);
    s.create_action(&ctx(), &am, &action(cm.id, start, false))
        .await
        .unwrap();
    s.update_action(&ctx(), am.id, 1, &action(cm.id, start, true))
        .await
        .unwrap();
    let mm = meta(PartyCode::US);
    s.create_measurement(&ctx(), &mm, &measurement(im.id, "2025", PartyCode::US, 1.0))
        .await
        .unwrap();
    s.update_measurement(
        &ctx(),
        mm.id,
        1,
        &measurement(im.id, "2025", PartyCode::US, 2.0),
    )
    .await
    .unwrap();
    let gm = meta(PartyCode::US);
    let g = MeetingDraft::new(start, "Monterrey", vec![], vec![], vec![]).unwrap();
    s.create_meeting(&ctx(), &gm, &g).await.unwrap();
    s.update_meeting(&ctx(), gm.id, 1, &g).await.unwrap();
    // Refused writes leave no entry.
    assert!(s.init_node(&ctx(), PartyCode::MX).await.is_err());
    assert!(s.update_meeting(&ctx(), gm.id, 1, &g).await.is_err());
    let login = NewAuditEntry {
        at: OffsetDateTime::now_utc(),
        actor: "mallory".into(),
        ip: None,
        action: "login.failure".into(),
        target: None,
        detail: "{}".into(),
    };
    let appended = s.append_audit(&login).await.unwrap();

    let entries = s.list_audit(None, 1000).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.entry.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "node.init",
            "user.create",
            "user.update",
            "token.create",
            "indicator.create",
            "indicator.update",
            "commitment.create",
            "commitment.update",
            "action.create",
            "action.update",
            "measurement.create",
            "measurement.update",
            "meeting.create",
            "meeting.update",
            "login.failure",
        ]
    );
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=15).collect::<Vec<i64>>());
    assert_eq!(entries.last(), Some(&appended));
    // The instant is kept to the microsecond and reads back identical to what was returned.
    assert_eq!(entries[0].entry.at.unix_timestamp_nanos() % 1000, 0);
    assert!(c.now - entries[0].entry.at < Duration::microseconds(1));
    assert_eq!(entries[0].entry.actor, "ana");
    assert_eq!(entries[0].entry.ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(entries[2].entry.target, Some(u.meta.id.to_string()));
    let detail: serde_json::Value = serde_json::from_str(&entries[7].entry.detail).unwrap();
    assert_eq!(detail["version"], 2);
    assert_eq!(entries[7].entry.target, Some(cm.id.to_string()));
    for e in &entries {
        assert!(
            !e.entry.detail.contains("secret-hash"),
            "{}",
            e.entry.detail
        );
    }

    // Paging reassembles the same list.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_audit(after, 4).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|e| e.seq);
        paged.extend(page);
    }
    assert_eq!(paged, entries);
    assert_eq!(s.list_audit(Some(13), 100).await.unwrap().len(), 2);

    let ok = s.verify_audit().await.unwrap();
    assert_eq!((ok.n_entries, ok.first_bad), (15, None));

    // Tampering with one stored entry is detected, and named.
    assert_eq!(
        h.raw("UPDATE audit SET actor = 'mallory' WHERE seq = 3")
            .await,
        1
    );
    let bad = s.verify_audit().await.unwrap();
    assert_eq!(bad.n_entries, 15);
    assert_eq!(bad.first_bad.as_ref().map(|b| b.0), Some(3), "{bad:?}");
    // Removing an entry is detected at its successor.
    h.raw("UPDATE audit SET actor = 'ana' WHERE seq = 3").await;
    assert_eq!(s.verify_audit().await.unwrap().first_bad, None);
    h.raw("DELETE FROM audit WHERE seq = 9").await;
    let gap = s.verify_audit().await.unwrap();
    assert_eq!(gap.first_bad.map(|b| b.0), Some(10));
}

async fn concurrent_writers_keep_one_chain(h: H) {
    const TASKS: usize = 8;
    const EACH: usize = 25;
    assert_eq!(h.s().last_audit_seq().await.unwrap(), 0, "an empty trail");
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..EACH {
                let code = format!("T{t}-N{n}");
                let m = meta(PartyCode::MX);
                h.s()
                    .create_indicator(&ctx(), &m, &indicator(&code, 0.0, 1.0))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let s = h.s();
    let entries = s.list_audit(None, 10_000).await.unwrap();
    assert_eq!(entries.len(), TASKS * EACH);
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=(TASKS * EACH) as i64).collect::<Vec<i64>>());
    assert_eq!(s.last_audit_seq().await.unwrap(), (TASKS * EACH) as i64);
    let v = s.verify_audit().await.unwrap();
    assert_eq!((v.n_entries, v.first_bad), ((TASKS * EACH) as u64, None));
    let all = all_pages!(
        64,
        |page| s.list_indicators(&Default::default(), page),
        |i: &puente_domain::Indicator| i.meta.id
    );
    assert_eq!(all.len(), TASKS * EACH);
}

/// A record to import: its meta and its body.
type Created<T> = (RecordMeta, T);

/// A batch of `n` commitments over varied dates, owners and indicators, with 0–3 actions each
/// (some completing), plus three actions on the stored commitment `stored`.
fn import_batch(
    n: usize,
    indicators: &[Uuid],
    stored: Uuid,
) -> (Vec<Created<CommitmentDraft>>, Vec<Created<ActionDraft>>) {
    let base = date!(2025 - 01 - 01);
    let mut cs = Vec::new();
    let mut acts = Vec::new();
    for i in 0..n {
        let start = days(base, (i as i64 * 37) % 400 - 100);
        let due = days(start, 30 + (i as i64 * 53) % 500);
        let owners = match i % 3 {
            0 => Owners::One(PartyCode::US),
            1 => Owners::One(PartyCode::MX),
            _ => Owners::Joint(PartyCode::MX, PartyCode::US),
        };
        let served = match i % 4 {
            0 => vec![],
            1 => vec![indicators[0]],
            2 => vec![indicators[1], indicators[0]],
            _ => vec![indicators[1]],
        };
        let m = meta(PartyCode::US);
        let id = m.id;
        cs.push((
            m,
            commitment("border-security", owners, "CBP", start, due, served),
        ));
        for k in 0..(i % 4) {
            let completes = i % 11 == 0 && k == 0;
            acts.push((
                meta(PartyCode::US),
                action(id, days(start, k as i64), completes),
            ));
        }
    }
    for k in 0..3 {
        acts.push((meta(PartyCode::MX), action(stored, days(base, k), false)));
    }
    (cs, acts)
}

async fn import_matches_creating_one_by_one(h: H) {
    let s = h.s();
    let mut inds = Vec::new();
    for (code, value) in [("IMP-A", 30.0), ("IMP-B", 150.0)] {
        let im = meta(PartyCode::US);
        s.create_indicator(&ctx(), &im, &indicator(code, 0.0, 100.0))
            .await
            .unwrap();
        s.create_measurement(
            &ctx(),
            &meta(PartyCode::US),
            &measurement(im.id, "2025Q2", PartyCode::US, value),
        )
        .await
        .unwrap();
        inds.push(im.id);
    }
    // A stored commitment gaining actions in the batch, and its twin gaining them one by one.
    let (start, due) = (date!(2025 - 01 - 01), date!(2025 - 12 - 31));
    let stored = meta(PartyCode::MX);
    s.create_commitment(&ctx(), &stored, &simple_commitment(start, due))
        .await
        .unwrap();
    let twin_stored = meta(PartyCode::MX);
    s.create_commitment(&ctx(), &twin_stored, &simple_commitment(start, due))
        .await
        .unwrap();

    // 130 commitments: several multi-row INSERTs and a shorter remainder.
    let (cs, acts) = import_batch(130, &inds, stored.id);
    let before = s.list_audit(None, 1_000_000).await.unwrap();
    let c = ctx();
    let summary = s.import(&c, &cs, &acts).await.unwrap();
    assert_eq!(
        (summary.commitments, summary.actions, summary.recomputed),
        (130, acts.len() as u64, 131)
    );

    // The same records, created one by one with fresh ids.
    let mut twin_of = BTreeMap::new();
    for (m, body) in &cs {
        let tm = meta(m.origin);
        s.create_commitment(&ctx(), &tm, body).await.unwrap();
        twin_of.insert(m.id, tm.id);
    }
    twin_of.insert(stored.id, twin_stored.id);
    for (m, a) in &acts {
        let mut body = a.clone();
        body.commitment = twin_of[&a.commitment];
        s.create_action(&ctx(), &meta(m.origin), &body)
            .await
            .unwrap();
    }

    let mut statuses = BTreeSet::new();
    for (m, body) in &cs {
        let got = s.get_commitment(m.id).await.unwrap().unwrap();
        let twin = s.get_commitment(twin_of[&m.id]).await.unwrap().unwrap();
        assert_eq!(got.schedule, twin.schedule, "schedule of {}", m.id);
        assert_eq!(
            got,
            Commitment {
                meta: m.clone(),
                body: body.clone(),
                schedule: twin.schedule,
            }
        );
        statuses.insert(got.schedule.status_on(date!(2025 - 06 - 01)));
    }
    assert!(
        statuses.len() >= 4,
        "the batch covers few statuses: {statuses:?}"
    );
    assert_eq!(
        schedule_of(s, stored.id).await,
        schedule_of(s, twin_stored.id).await
    );
    assert_eq!(schedule_of(s, stored.id).await.not_started_until, start);
    for (m, a) in &acts {
        assert_eq!(
            s.get_action(m.id).await.unwrap(),
            Some(Action {
                meta: m.clone(),
                body: a.clone()
            })
        );
    }

    // One entry per record, commitments first, each as the single methods write it.
    let all = s.list_audit(None, 1_000_000).await.unwrap();
    let imported = &all[before.len()..before.len() + cs.len() + acts.len()];
    let expected: Vec<(&str, String)> = cs
        .iter()
        .map(|(m, _)| ("commitment.create", m.id.to_string()))
        .chain(
            acts.iter()
                .map(|(m, _)| ("action.create", m.id.to_string())),
        )
        .collect();
    let got: Vec<(&str, String)> = imported
        .iter()
        .map(|e| {
            assert_eq!(e.entry.actor, c.actor);
            assert_eq!(e.entry.ip, c.ip);
            assert_eq!(e.entry.at, c.now);
            assert_eq!(e.entry.detail, r#"{"version":1}"#);
            (e.entry.action.as_str(), e.entry.target.clone().unwrap())
        })
        .collect();
    assert_eq!(got, expected);
    let one_by_one = &all[before.len() + cs.len() + acts.len()..];
    assert_eq!(one_by_one.len(), cs.len() + acts.len());
    assert_eq!(
        one_by_one
            .iter()
            .map(|e| &e.entry.detail)
            .collect::<Vec<_>>(),
        imported.iter().map(|e| &e.entry.detail).collect::<Vec<_>>()
    );
    let v = s.verify_audit().await.unwrap();
    assert_eq!((v.n_entries, v.first_bad), (all.len() as u64, None));

    // The imported records are found by the ordinary filters.
    let listed = all_pages!(
        50,
        |page| s.list_actions(
            &ActionFilter {
                commitment: Some(stored.id),
                ..Default::default()
            },
            page
        ),
        |a: &Action| a.meta.id
    );
    assert_eq!(listed.len(), 3);
    // More commitments than one lookup list holds (500 ids): every schedule still computed.
    let (start, due) = (date!(2025 - 01 - 01), date!(2025 - 12 - 31));
    let many: Vec<Created<CommitmentDraft>> = (0..510)
        .map(|_| (meta(PartyCode::US), simple_commitment(start, due)))
        .collect();
    let acts: Vec<Created<ActionDraft>> = many
        .iter()
        .step_by(2)
        .map(|(m, _)| (meta(PartyCode::US), action(m.id, start, false)))
        .collect();
    s.import(&ctx(), &many, &acts).await.unwrap();
    for (i, (m, _)) in many.iter().enumerate() {
        let n_actions = u64::from(i % 2 == 0);
        assert_eq!(
            schedule_of(s, m.id).await,
            StatusSchedule::of(&StatusInputs {
                start,
                due,
                n_actions,
                completed: false,
                progress: vec![],
            })
        );
    }
    let all = s.list_audit(None, 1_000_000).await.unwrap();

    // The housekeeping after a bulk load changes nothing a reader sees.
    s.after_bulk_load().await.unwrap();
    assert_eq!(
        schedule_of(s, cs[0].0.id).await,
        schedule_of(s, twin_of[&cs[0].0.id]).await
    );

    // An empty import is no transaction at all.
    assert_eq!(
        s.import(&ctx(), &[], &[]).await.unwrap(),
        Default::default()
    );
    assert_eq!(audit_len(s).await, all.len());
}

async fn import_with_one_bad_record_imports_nothing(h: H) {
    let s = h.s();
    let im = meta(PartyCode::US);
    s.create_indicator(&ctx(), &im, &indicator("IMP", 0.0, 100.0))
        .await
        .unwrap();
    let im2 = meta(PartyCode::US);
    s.create_indicator(&ctx(), &im2, &indicator("IMP-2", 0.0, 100.0))
        .await
        .unwrap();
    let stored = meta(PartyCode::MX);
    s.create_commitment(
        &ctx(),
        &stored,
        &simple_commitment(date!(2025 - 01 - 01), date!(2025 - 12 - 31)),
    )
    .await
    .unwrap();
    let before = audit_len(s).await;
    let stored_schedule = schedule_of(s, stored.id).await;
    let (cs, mut acts) = import_batch(12, &[im.id, im2.id], stored.id);
    assert!(acts.len() > 17);
    acts[17].1.commitment = Uuid::now_v7();

    let nothing_written = |cs: Vec<Created<CommitmentDraft>>| async move {
        for (m, _) in &cs {
            assert_eq!(s.get_commitment(m.id).await.unwrap(), None);
        }
        assert_eq!(audit_len(s).await, before);
        assert_eq!(schedule_of(s, stored.id).await, stored_schedule);
        let listed = s
            .list_actions(
                &Default::default(),
                Page {
                    after: None,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert!(listed.items.is_empty());
    };

    let err = s.import(&ctx(), &cs, &acts).await.unwrap_err();
    assert_eq!(
        invalid_at(&err),
        [(
            "/actions/17/commitment".to_owned(),
            FieldErrorCode::UnknownCommitment
        )]
    );
    nothing_written(cs.clone()).await;

    // Every bad item is named: an unknown indicator, an id given twice.
    let mut bad_cs = cs.clone();
    bad_cs[1].1.indicators = vec![im.id, Uuid::now_v7()];
    let mut bad_acts = acts.clone();
    bad_acts[17].1.commitment = cs[0].0.id;
    bad_acts[2].0.id = bad_acts[1].0.id;
    let err = s.import(&ctx(), &bad_cs, &bad_acts).await.unwrap_err();
    assert_eq!(
        invalid_at(&err),
        [
            (
                "/commitments/1/indicators/1".to_owned(),
                FieldErrorCode::UnknownIndicator
            ),
            ("/actions/2/id".to_owned(), FieldErrorCode::Duplicate),
        ]
    );
    nothing_written(cs.clone()).await;

    // An id already stored is refused as on the single methods, and rolls the batch back.
    let mut clash = acts.clone();
    clash[17].1.commitment = cs[0].0.id;
    let mut clash_cs = cs.clone();
    clash_cs[4].0.id = stored.id; // commitment 4 has no actions
    let err = s.import(&ctx(), &clash_cs, &clash).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Duplicate {
                what: "commitment",
                pointer: "/id"
            }
        ),
        "{err:?}"
    );
    nothing_written(cs.clone()).await;

    // Fixed, the same batch imports whole.
    s.import(&ctx(), &cs, &clash).await.unwrap();
    assert_eq!(audit_len(s).await, before + cs.len() + clash.len());
    assert_eq!(s.verify_audit().await.unwrap().first_bad, None);
}

// ---------------------------------------------------------------------------------------------
// Exchange with peers
//
// The store does not parse envelopes: these tests seal fake ones (any text, hashed with SHA-256)
// and decide steps with closures standing in for the domain's state machine.

type Decide = dyn Fn(&ExchangeItem) -> Result<ItemState, StepRefused> + Send + Sync;
type SealFn = dyn Fn(u64) -> Result<SealedEnvelope, String> + Send + Sync;

fn fake_envelope(id: Uuid, seq: u64, message_type: &str, salt: &str) -> SealedEnvelope {
    let signed = format!("{{\"id\":\"{id}\",\"seq\":{seq},\"type\":\"{message_type}\"}}\n{salt}");
    SealedEnvelope {
        id,
        seq,
        message_type: message_type.into(),
        time: now_us(),
        hash: Sha256::digest(signed.as_bytes()).into(),
        signed,
    }
}

/// The exchange tests run as MX's node (its peers are US, CA and GT): the exchange log names
/// the node's own party in every leaf.
async fn as_mx(h: &H) {
    h.s().init_node(&ctx(), PartyCode::MX).await.unwrap();
}

fn card(party: PartyCode, n: u8) -> NewPeer {
    NewPeer {
        party,
        endpoint: format!("https://{}.example.org:8443", party.as_str().to_lowercase()),
        signing_key: format!("ed25519:key-{n}"),
        tls_fingerprint: hex::encode([n; 32]),
        card: format!("[node]\nparty = \"{party}\"\nversion = {n}\n"),
    }
}

fn new_item(
    id: Uuid,
    kind: ItemKind,
    originator: PartyCode,
    recipient: PartyCode,
    urgency: &str,
) -> NewItem {
    NewItem {
        id,
        kind,
        originator,
        recipient,
        subtype: "arms-trafficking".into(),
        urgency: urgency.into(),
        summary: format!("summary of {id}"),
        body: format!("{{\"id\":\"{id}\"}}"),
        sent_at: now_us(),
    }
}

/// A stand-in for the state machine: moves the item to `state`, stamping what that state means.
fn becomes(
    state: &'static str,
) -> impl Fn(&ExchangeItem) -> Result<ItemState, StepRefused> + Send + Sync {
    let at = now_us();
    move |it| {
        let mut s = it.state.clone();
        s.state = state.into();
        match state {
            "acknowledged" => s.acknowledged_at = Some(at),
            "assigned" => s.agency = Some("SEMAR".into()),
            "closed" => {
                s.closed_at = Some(at);
                s.closure = Some("acted".into());
            }
            _ => {}
        }
        Ok(s)
    }
}

fn refuses(
    code: &'static str,
) -> impl Fn(&ExchangeItem) -> Result<ItemState, StepRefused> + Send + Sync {
    move |_| {
        Err(StepRefused {
            code,
            detail: format!("refused: {code}"),
        })
    }
}

fn new_step<'a>(
    item: Uuid,
    kind: ItemKind,
    step: &str,
    by: PartyCode,
    decide: &'a Decide,
) -> NewStep<'a> {
    NewStep {
        item,
        kind,
        step: format!("{}.{step}", kind.as_str()),
        by,
        at: now_us(),
        body: format!("{{\"step\":\"{step}\"}}"),
        decide,
    }
}

/// This node (MX) sends a new item to `to`.
async fn send_new(s: &dyn Store, to: PartyCode, kind: ItemKind, urgency: &str) -> Sent {
    let id = Uuid::now_v7();
    let seal = move |seq: u64| Ok::<_, String>(fake_envelope(id, seq, kind.as_str(), "new"));
    let item = new_item(id, kind, PartyCode::MX, to, urgency);
    s.send(&ctx(), to, Effect::NewItem(item), &seal)
        .await
        .unwrap()
}

/// This node (MX) takes a step on `item` and sends it to `to`.
async fn send_step(
    s: &dyn Store,
    to: PartyCode,
    item: &ExchangeItem,
    step: &str,
    decide: &Decide,
) -> Result<Sent, StoreError> {
    let id = Uuid::now_v7();
    let message_type = format!("{}.{step}", item.kind.as_str());
    let seal = move |seq: u64| Ok::<_, String>(fake_envelope(id, seq, &message_type, "step"));
    let step = new_step(item.id, item.kind, step, PartyCode::MX, decide);
    s.send(&ctx(), to, Effect::Step(step), &seal).await
}

/// What the receipt sealer was given: its seq, the accepted list and the next seq.
type Sealed = (u64, Vec<Accepted>, u64);

/// Receives `batch` from `from`, returning the report and what the receipt sealer was given.
async fn receive_batch(
    s: &dyn Store,
    from: PartyCode,
    batch: Vec<Inbound<'_>>,
) -> Result<(ReceiveReport, Sealed), StoreError> {
    let given = std::sync::Mutex::new(None);
    let seal = |seq: u64, accepted: &[Accepted], next: u64| {
        *given.lock().unwrap() = Some((seq, accepted.to_vec(), next));
        Ok::<_, String>(fake_envelope(Uuid::now_v7(), seq, "receipt", "receipt"))
    };
    let report = s.receive(&ctx(), from, batch, &seal).await?;
    let given = given.into_inner().unwrap().expect("the receipt was sealed");
    Ok((report, given))
}

fn accepted(e: &SealedEnvelope) -> Accepted {
    Accepted {
        id: e.id,
        seq: e.seq,
        hash: e.hash,
    }
}

fn inbound_item(e: &SealedEnvelope, kind: ItemKind) -> Inbound<'static> {
    Inbound {
        envelope: e.clone(),
        effect: Effect::NewItem(new_item(e.id, kind, PartyCode::US, PartyCode::MX, "urgent")),
    }
}

fn inbound_step<'a>(
    e: &SealedEnvelope,
    item: Uuid,
    kind: ItemKind,
    decide: &'a Decide,
) -> Inbound<'a> {
    let step = e.message_type.rsplit('.').next().unwrap().to_owned();
    Inbound {
        envelope: e.clone(),
        effect: Effect::Step(new_step(item, kind, &step, PartyCode::US, decide)),
    }
}

async fn envelopes_of(s: &dyn Store, peer: PartyCode) -> Vec<(i64, EnvelopeRecord)> {
    s.list_envelopes(peer, None, 10_000).await.unwrap()
}

fn detail(e: &puente_store::AuditEntry) -> serde_json::Value {
    serde_json::from_str(&e.entry.detail).unwrap()
}

async fn peers_register_replace_and_list(h: H) {
    as_mx(&h).await;
    let s = h.s();
    assert_eq!(s.peer(PartyCode::US).await.unwrap(), None);
    let first = ctx();
    let us = s.put_peer(&first, &card(PartyCode::US, 1)).await.unwrap();
    let c = card(PartyCode::US, 1);
    assert_eq!(
        (
            us.party,
            &us.endpoint,
            &us.signing_key,
            &us.tls_fingerprint,
            &us.card
        ),
        (
            c.party,
            &c.endpoint,
            &c.signing_key,
            &c.tls_fingerprint,
            &c.card
        )
    );
    assert_eq!((us.added_at, us.updated_at), (first.now, first.now));
    assert_eq!((us.next_out_seq, us.next_in_seq, us.backlog), (1, 1, 0));
    assert_eq!(
        (
            us.oldest_undelivered_at,
            us.last_contact_at,
            &us.last_error,
            us.last_error_at
        ),
        (None, None, &None, None)
    );
    assert_eq!(s.peer(PartyCode::US).await.unwrap(), Some(us.clone()));
    // After the node's own entry (`as_mx`), the peer's.
    let audit = s.list_audit(Some(1), 100).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entry.action, "peer.add");
    assert_eq!(audit[0].entry.target.as_deref(), Some("US"));
    assert_eq!(detail(&audit[0])["tls_fingerprint"], c.tls_fingerprint);

    // A new card replaces keys and endpoint; counters and history stay.
    send_new(s, PartyCode::US, ItemKind::Referral, "urgent").await;
    let later = WriteCtx {
        now: first.now + Duration::seconds(5),
        ..ctx()
    };
    let replaced = s.put_peer(&later, &card(PartyCode::US, 2)).await.unwrap();
    assert_eq!(replaced.tls_fingerprint, hex::encode([2u8; 32]));
    assert_eq!(replaced.signing_key, "ed25519:key-2");
    assert_eq!(
        (replaced.added_at, replaced.updated_at),
        (first.now, later.now)
    );
    assert_eq!((replaced.next_out_seq, replaced.backlog), (2, 1));
    let last = s.list_audit(None, 100).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.entry.action.as_str(), last.entry.target.as_deref()),
        ("peer.update", Some("US"))
    );

    let gt = s
        .put_peer(&ctx(), &card(PartyCode::parse("GT").unwrap(), 3))
        .await
        .unwrap();
    let listed: Vec<PartyCode> = s
        .list_peers()
        .await
        .unwrap()
        .iter()
        .map(|p| p.party)
        .collect();
    assert_eq!(listed, vec![gt.party, PartyCode::US]);
    assert_eq!(
        s.peer_by_fingerprint(&hex::encode([2u8; 32]))
            .await
            .unwrap()
            .map(|p| p.party),
        Some(PartyCode::US)
    );
    assert_eq!(
        s.peer_by_fingerprint(&hex::encode([1u8; 32]))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.peer_by_fingerprint(&gt.tls_fingerprint).await.unwrap(),
        Some(gt)
    );

    // Two peers cannot share a certificate; the refused write leaves no trace.
    let before = audit_len(s).await;
    let mut clash = card(PartyCode::parse("CA").unwrap(), 9);
    clash.tls_fingerprint = hex::encode([2u8; 32]);
    let e = s.put_peer(&ctx(), &clash).await.unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Duplicate {
                what: "peer",
                pointer: "/tls_fingerprint"
            }
        ),
        "{e:?}"
    );
    assert_eq!(s.list_peers().await.unwrap().len(), 2);
    assert_eq!(audit_len(s).await, before);

    // Delivery errors are noted (not audited) and cleared by the next receipt.
    let at = now_us();
    s.record_delivery_error(PartyCode::US, "connection refused", at)
        .await
        .unwrap();
    let us = s.peer(PartyCode::US).await.unwrap().unwrap();
    assert_eq!(
        (us.last_error.as_deref(), us.last_error_at),
        (Some("connection refused"), Some(at))
    );
    assert_eq!(audit_len(s).await, before);
    let e = s
        .record_delivery_error(PartyCode::parse("CA").unwrap(), "x", at)
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::NotFound { kind: "peer", .. }),
        "{e:?}"
    );
    assert_eq!(s.verify_audit().await.unwrap().first_bad, None);
}

async fn send_numbers_per_peer_and_fills_the_outbox(h: H) {
    as_mx(&h).await;
    let s = h.s();
    let gt = PartyCode::parse("GT").unwrap();
    s.put_peer(&ctx(), &card(PartyCode::US, 1)).await.unwrap();
    s.put_peer(&ctx(), &card(gt, 2)).await.unwrap();
    let mut to_us = Vec::new();
    let mut to_gt = Vec::new();
    for i in 0..3 {
        to_us.push(send_new(s, PartyCode::US, ItemKind::Referral, "urgent").await);
        if i < 2 {
            to_gt.push(send_new(s, gt, ItemKind::Request, "routine").await);
        }
    }
    let seqs = |v: &[Sent]| v.iter().map(|x| x.envelope.seq).collect::<Vec<_>>();
    assert_eq!(seqs(&to_us), vec![1, 2, 3]);
    assert_eq!(seqs(&to_gt), vec![1, 2]);

    // The item as stored: the new item's fields, in its initial state, without steps.
    let first = &to_us[0];
    assert_eq!(first.item.id, first.envelope.id);
    assert_eq!(
        (first.item.kind, first.item.originator, first.item.recipient),
        (ItemKind::Referral, PartyCode::MX, PartyCode::US)
    );
    assert_eq!(first.item.state.state, "sent");
    assert_eq!(to_gt[0].item.state.state, "asked");
    assert!(first.item.steps.is_empty());
    assert_eq!(
        s.get_item(first.item.id).await.unwrap(),
        Some(first.item.clone())
    );

    let outbox = s.outbox(PartyCode::US, 10).await.unwrap();
    assert_eq!(outbox.len(), 3);
    for (record, sent) in outbox.iter().zip(&to_us) {
        assert_eq!(record.envelope, sent.envelope);
        assert_eq!(
            (
                record.peer,
                record.direction,
                record.stream,
                record.item,
                record.delivered_at
            ),
            (
                PartyCode::US,
                EnvelopeDirection::Out,
                Stream::Message,
                Some(sent.item.id),
                None
            )
        );
    }
    assert_eq!(
        s.outbox(PartyCode::US, 2).await.unwrap(),
        outbox[..2].to_vec()
    );
    assert_eq!(
        s.outbox(PartyCode::parse("CA").unwrap(), 10).await.unwrap(),
        vec![]
    );
    let us = s.peer(PartyCode::US).await.unwrap().unwrap();
    assert_eq!((us.next_out_seq, us.backlog), (4, 3));
    assert_eq!(us.oldest_undelivered_at, Some(outbox[0].stored_at));

    // Each send is audited, naming the envelope, its peer, seq, item and hash.
    let audit = s.list_audit(None, 100).await.unwrap();
    let sent: Vec<_> = audit
        .iter()
        .filter(|e| e.entry.action == "referral.create.send")
        .collect();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[1].entry.target, Some(to_us[1].envelope.id.to_string()));
    assert_eq!(
        detail(sent[1]),
        serde_json::json!({
            "peer": "US",
            "log_index": 1,
            "seq": 2,
            "item": to_us[1].item.id.to_string(),
            "hash": hex::encode(to_us[1].envelope.hash),
        })
    );
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.entry.action == "request.create.send")
            .count(),
        2
    );

    // A step: stored with its envelope's id, the item moved to the decided state.
    let withdraw = becomes("withdrawn");
    let stepped = send_step(s, PartyCode::US, &first.item, "withdraw", &withdraw)
        .await
        .unwrap();
    assert_eq!(stepped.envelope.seq, 4);
    assert_eq!(stepped.item.state.state, "withdrawn");
    assert_eq!(stepped.item.steps.len(), 1);
    let step = &stepped.item.steps[0];
    assert_eq!(
        (step.index, step.step.as_str(), step.by, step.envelope),
        (0, "referral.withdraw", PartyCode::MX, stepped.envelope.id)
    );
    assert!(stepped.item.updated_at >= first.item.updated_at);
    let last = s.list_audit(None, 100).await.unwrap().pop().unwrap();
    assert_eq!(last.entry.action, "referral.withdraw.send");
    assert_eq!(
        s.outbox(PartyCode::US, 10)
            .await
            .unwrap()
            .last()
            .unwrap()
            .item,
        Some(first.item.id)
    );

    // What is refused stores nothing and uses no seq.
    let before = (
        audit_len(s).await,
        envelopes_of(s, PartyCode::US).await.len(),
    );
    let nobody = PartyCode::parse("CA").unwrap();
    let id = Uuid::now_v7();
    let seal = move |seq: u64| Ok::<_, String>(fake_envelope(id, seq, "referral", "x"));
    let e = s
        .send(
            &ctx(),
            nobody,
            Effect::NewItem(new_item(
                id,
                ItemKind::Referral,
                PartyCode::MX,
                nobody,
                "urgent",
            )),
            &seal,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::NotFound { kind: "peer", .. }),
        "{e:?}"
    );
    let ghost = ExchangeItem {
        id: Uuid::now_v7(),
        ..first.item.clone()
    };
    let e = send_step(s, PartyCode::US, &ghost, "withdraw", &withdraw)
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::NotFound { kind: "item", .. }),
        "{e:?}"
    );
    // A step of the wrong kind does not find the item either.
    let as_request = ExchangeItem {
        kind: ItemKind::Request,
        ..first.item.clone()
    };
    let e = send_step(s, PartyCode::US, &as_request, "answer", &withdraw)
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::NotFound { kind: "item", .. }),
        "{e:?}"
    );
    // Sealers that fail, or seal something else than what was allocated.
    let bad_seals: Vec<Box<SealFn>> = vec![
        Box::new(|_| Err("the signing key is unreadable".to_owned())),
        Box::new(move |seq| Ok(fake_envelope(id, seq + 1, "referral", "x"))),
        Box::new(move |seq| Ok(fake_envelope(Uuid::now_v7(), seq, "referral", "x"))),
        Box::new(move |seq| {
            Ok(SealedEnvelope {
                hash: [0; 32],
                ..fake_envelope(id, seq, "referral", "x")
            })
        }),
    ];
    for seal in &bad_seals {
        let item = new_item(
            id,
            ItemKind::Referral,
            PartyCode::MX,
            PartyCode::US,
            "urgent",
        );
        let e = s
            .send(&ctx(), PartyCode::US, Effect::NewItem(item), &**seal)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Seal(_)), "{e:?}");
    }
    assert_eq!(s.get_item(id).await.unwrap(), None);
    // An item id already held.
    let held = first.item.id;
    let seal = move |seq: u64| Ok::<_, String>(fake_envelope(held, seq, "referral", "again"));
    let item = new_item(
        held,
        ItemKind::Referral,
        PartyCode::MX,
        PartyCode::US,
        "urgent",
    );
    let e = s
        .send(&ctx(), PartyCode::US, Effect::NewItem(item), &seal)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Duplicate {
                what: "item",
                pointer: "/id"
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        (
            audit_len(s).await,
            envelopes_of(s, PartyCode::US).await.len()
        ),
        before
    );
    assert_eq!(
        s.peer(PartyCode::US).await.unwrap().unwrap().next_out_seq,
        5
    );
    assert_eq!(
        send_new(s, PartyCode::US, ItemKind::Request, "urgent")
            .await
            .envelope
            .seq,
        5
    );
    assert_eq!(s.verify_audit().await.unwrap().first_bad, None);
}

async fn send_refused_by_decide_stores_nothing(h: H) {
    as_mx(&h).await;
    let s = h.s();
    s.put_peer(&ctx(), &card(PartyCode::US, 1)).await.unwrap();
    let sent = send_new(s, PartyCode::US, ItemKind::Referral, "urgent").await;
    let before_audit = audit_len(s).await;
    let before_envelopes = envelopes_of(s, PartyCode::US).await;
    let sealed = std::sync::atomic::AtomicUsize::new(0);
    let seal = |seq: u64| {
        sealed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok::<_, String>(fake_envelope(Uuid::now_v7(), seq, "referral.withdraw", "x"))
    };
    let refuse = refuses("already-done");
    let step = new_step(
        sent.item.id,
        ItemKind::Referral,
        "withdraw",
        PartyCode::MX,
        &refuse,
    );
    let e = s
        .send(&ctx(), PartyCode::US, Effect::Step(step), &seal)
        .await
        .unwrap_err();
    match e {
        StoreError::StepRefused { code, detail } => {
            assert_eq!(
                (code, detail.as_str()),
                ("already-done", "refused: already-done")
            );
        }
        other => panic!("expected StepRefused, got {other:?}"),
    }
    // Not even sealed: a refused step is decided before anything is signed.
    assert_eq!(sealed.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(audit_len(s).await, before_audit);
    assert_eq!(envelopes_of(s, PartyCode::US).await, before_envelopes);
    assert_eq!(
        s.get_item(sent.item.id).await.unwrap(),
        Some(sent.item.clone())
    );
    let us = s.peer(PartyCode::US).await.unwrap().unwrap();
    assert_eq!((us.next_out_seq, us.backlog), (2, 1));
    let ack = becomes("withdrawn");
    let ok = send_step(s, PartyCode::US, &sent.item, "withdraw", &ack)
        .await
        .unwrap();
    assert_eq!(ok.envelope.seq, 2);
}

async fn receipts_mark_only_matching_envelopes(h: H) {
    as_mx(&h).await;
    let s = h.s();
    s.put_peer(&ctx(), &card(PartyCode::US, 1)).await.unwrap();
    let sent: Vec<Sent> = [
        send_new(s, PartyCode::US, ItemKind::Referral, "urgent").await,
        send_new(s, PartyCode::US, ItemKind::Referral, "urgent").await,
        send_new(s, PartyCode::US, ItemKind::Request, "urgent").await,
    ]
    .into();
    s.record_delivery_error(PartyCode::US, "timed out", now_us())
        .await
        .unwrap();
    let before = audit_len(s).await;

    // A wrong hash, and a right hash under the wrong seq, mark nothing.
    let mut wrong_hash = accepted(&sent[1].envelope);
    wrong_hash.hash[0] ^= 1;
    let mut wrong_seq = accepted(&sent[2].envelope);
    wrong_seq.seq = 2;
    let huge = Accepted {
        seq: u64::MAX,
        ..accepted(&sent[0].envelope)
    };
    let receipt1 = fake_envelope(Uuid::now_v7(), 1, "receipt", "r1");
    let now = now_us();
    let marked = s
        .record_receipt(
            PartyCode::US,
            &receipt1,
            &[wrong_hash, wrong_seq, huge],
            now,
        )
        .await
        .unwrap();
    assert_eq!(marked, 0);
    let us = s.peer(PartyCode::US).await.unwrap().unwrap();
    assert_eq!(us.backlog, 3);
    // Contact was made all the same: the error is cleared.
    assert_eq!(
        (us.last_contact_at, us.last_error, us.last_error_at),
        (Some(now), None, None)
    );

    let marked = s
        .record_receipt(
            PartyCode::US,
            &receipt1,
            &[accepted(&sent[0].envelope)],
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        marked, 1,
        "the same receipt again still marks what it covers"
    );
    let outbox = s.outbox(PartyCode::US, 10).await.unwrap();
    assert_eq!(
        outbox.iter().map(|r| r.envelope.seq).collect::<Vec<_>>(),
        vec![2, 3]
    );

    let receipt2 = fake_envelope(Uuid::now_v7(), 2, "receipt", "r2");
    let all: Vec<Accepted> = sent.iter().map(|x| accepted(&x.envelope)).collect();
    let later = now + Duration::seconds(1);
    assert_eq!(
        s.record_receipt(PartyCode::US, &receipt2, &all, later)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.record_receipt(PartyCode::US, &receipt2, &all, later)
            .await
            .unwrap(),
        0
    );
    assert_eq!(s.outbox(PartyCode::US, 10).await.unwrap(), vec![]);
    let us = s.peer(PartyCode::US).await.unwrap().unwrap();
    assert_eq!(
        (us.backlog, us.oldest_undelivered_at, us.last_contact_at),
        (0, None, Some(later))
    );

    // Each receipt is stored and audited once.
    let audit = s.list_audit(None, 100).await.unwrap();
    let receipts: Vec<_> = audit[before..].iter().collect();
    assert_eq!(receipts.len(), 2);
    assert!(receipts.iter().all(|e| e.entry.action == "receipt.receive"));
    assert_eq!(receipts[0].entry.target, Some(receipt1.id.to_string()));
    assert_eq!(receipts[0].entry.actor, "peer:US");
    assert_eq!(detail(receipts[1])["delivered"], 2);
    assert_eq!(detail(receipts[1])["seq"], 2);
    let log = envelopes_of(s, PartyCode::US).await;
    assert_eq!(log.len(), 5);
    assert!(log.windows(2).all(|w| w[0].0 < w[1].0));
    let (messages, receipts): (Vec<_>, Vec<_>) = log
        .iter()
        .map(|(_, r)| r)
        .partition(|r| r.stream == Stream::Message);
    assert_eq!(messages[0].delivered_at, Some(now));
    assert_eq!(messages[1].delivered_at, Some(later));
    assert!(
        messages
            .iter()
            .all(|r| r.direction == EnvelopeDirection::Out)
    );
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[0].envelope, receipt1);
    assert_eq!(
        (
            receipts[1].direction,
            receipts[1].item,
            receipts[1].delivered_at,
            receipts[1].stored_at
        ),
        (EnvelopeDirection::In, None, None, later)
    );
    // Paging the log by row number.
    let first2 = s.list_envelopes(PartyCode::US, None, 2).await.unwrap();
    let rest = s
        .list_envelopes(PartyCode::US, Some(first2[1].0), 10)
        .await
        .unwrap();
    assert_eq!([first2, rest].concat(), log);

    // A receipt id held with other content, or a receipt seq held under another id.
    let tampered = SealedEnvelope {
        hash: [7; 32],
        ..receipt2.clone()
    };
    let e = s
        .record_receipt(PartyCode::US, &tampered, &all, later)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Duplicate {
                what: "receipt",
                pointer: "/id"
            }
        ),
        "{e:?}"
    );
    let reused = fake_envelope(Uuid::now_v7(), 2, "receipt", "r2 again");
    let e = s
        .record_receipt(PartyCode::US, &reused, &all, later)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Duplicate {
                what: "receipt",
                pointer: "/seq"
            }
        ),
        "{e:?}"
    );
    let e = s
        .record_receipt(PartyCode::parse("CA").unwrap(), &receipt2, &all, later)
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::NotFound { kind: "peer", .. }),
        "{e:?}"
    );
    assert_eq!(audit_len(s).await, before + 2);
    assert_eq!(s.verify_audit().await.unwrap().first_bad, None);
}

async fn receive_applies_in_order_once(h: H) {
    as_mx(&h).await;
    let s = h.s();
    s.put_peer(&ctx(), &card(PartyCode::US, 1)).await.unwrap();
    let referral = fake_envelope(Uuid::now_v7(), 1, "referral", "a");
    let ack = fake_envelope(Uuid::now_v7(), 2, "referral.acknowledge", "b");
    let request = fake_envelope(Uuid::now_v7(), 3, "request", "c");
    let acknowledge = becomes("acknowledged");
    let batch = || {
        vec![
            inbound_item(&referral, ItemKind::Referral),
            inbound_step(&ack, referral.id, ItemKind::Referral, &acknowledge),
            inbound_item(&request, ItemKind::Request),
        ]
    };
    let before = audit_len(s).await;
    let (report, given) = receive_batch(s, PartyCode::US, batch()).await.unwrap();
    let all = vec![accepted(&referral), accepted(&ack), accepted(&request)];
    assert_eq!(
        (&report.accepted, &report.rejected, report.next_seq),
        (&all, &None, 4)
    );
    assert_eq!(given, (1, all.clone(), 4));
    assert_eq!(report.receipt.seq, 1);

    let item = s.get_item(referral.id).await.unwrap().unwrap();
    assert_eq!(
        (item.originator, item.recipient, item.state.state.as_str()),
        (PartyCode::US, PartyCode::MX, "acknowledged")
    );
    assert!(item.state.acknowledged_at.is_some());
    assert_eq!(item.steps.len(), 1);
    assert_eq!(
        (
            item.steps[0].index,
            item.steps[0].by,
            item.steps[0].envelope
        ),
        (0, PartyCode::US, ack.id)
    );
    assert_eq!(
        s.get_item(request.id).await.unwrap().unwrap().state.state,
        "asked"
    );

    let audit = s.list_audit(None, 100).await.unwrap();
    let actions: Vec<&str> = audit[before..]
        .iter()
        .map(|e| e.entry.action.as_str())
        .collect();
    assert_eq!(
        actions,
        vec![
            "referral.create.receive",
            "referral.acknowledge.receive",
            "request.create.receive",
            "receipt.send"
        ]
    );
    assert_eq!(audit[before + 1].entry.target, Some(ack.id.to_string()));
    assert_eq!(audit[before + 1].entry.actor, "ana");
    assert_eq!(detail(&audit[before + 1])["item"], referral.id.to_string());
    assert_eq!(detail(&audit[before + 3])["next_seq"], 4);

    let log = envelopes_of(s, PartyCode::US).await;
    assert_eq!(log.len(), 4);
    let inbound: Vec<&EnvelopeRecord> = log[..3].iter().map(|(_, r)| r).collect();
    assert!(inbound.iter().all(|r| r.direction == EnvelopeDirection::In
        && r.stream == Stream::Message
        && r.delivered_at.is_none()));
    assert_eq!(inbound[1].item, Some(referral.id));
    let receipt = &log[3].1;
    assert_eq!(receipt.envelope, report.receipt);
    assert_eq!(
        (receipt.direction, receipt.stream, receipt.item),
        (EnvelopeDirection::Out, Stream::Receipt, None)
    );
    assert_eq!(receipt.delivered_at, Some(receipt.stored_at));
    // A receipt travels in the response, never through the outbox.
    assert_eq!(s.outbox(PartyCode::US, 10).await.unwrap(), vec![]);
    let us = s.peer(PartyCode::US).await.unwrap().unwrap();
    assert_eq!((us.next_in_seq, us.backlog), (4, 0));
    assert!(us.last_contact_at.is_some());

    // The same batch again: all accepted again, nothing applied twice; only a new receipt.
    let audit_before = audit_len(s).await;
    let (again, given) = receive_batch(s, PartyCode::US, batch()).await.unwrap();
    assert_eq!(
        (&again.accepted, &again.rejected, again.next_seq),
        (&all, &None, 4)
    );
    assert_eq!(given, (2, all.clone(), 4));
    assert_eq!(audit_len(s).await, audit_before + 1);
    let log2 = envelopes_of(s, PartyCode::US).await;
    assert_eq!(log2[..4], log[..]);
    assert_eq!(log2.len(), 5);
    assert_eq!(log2[4].1.stream, Stream::Receipt);
    assert_eq!(s.get_item(referral.id).await.unwrap().unwrap(), item);

    // A replay (a held id with other bytes) stops the batch there; what came before stays.
    let next = fake_envelope(Uuid::now_v7(), 4, "referral", "d");
    let replayed = fake_envelope(referral.id, 1, "referral", "other bytes");
    let after = fake_envelope(Uuid::now_v7(), 5, "referral", "e");
    let (report, given) = receive_batch(
        s,
        PartyCode::US,
        vec![
            inbound_item(&next, ItemKind::Referral),
            inbound_item(&replayed, ItemKind::Referral),
            inbound_item(&after, ItemKind::Referral),
        ],
    )
    .await
    .unwrap();
    assert_eq!(report.accepted, vec![accepted(&next)]);
    assert_eq!(
        report.rejected,
        Some((1, InboundRejection::Replayed { id: referral.id }))
    );
    assert_eq!((report.next_seq, given.0, given.2), (5, 3, 5));
    assert!(s.get_item(next.id).await.unwrap().is_some());
    assert_eq!(s.get_item(after.id).await.unwrap(), None);

    // A gap.
    let ahead = fake_envelope(Uuid::now_v7(), 7, "referral", "f");
    let (report, given) = receive_batch(
        s,
        PartyCode::US,
        vec![inbound_item(&ahead, ItemKind::Referral)],
    )
    .await
    .unwrap();
    assert_eq!(report.accepted, vec![]);
    assert_eq!(
        report.rejected,
        Some((
            0,
            InboundRejection::SequenceGap {
                expected: 5,
                got: 7
            }
        ))
    );
    assert_eq!(given, (4, vec![], 5));
    assert_eq!(s.get_item(ahead.id).await.unwrap(), None);

    // A step on an item this node does not hold.
    let orphan = fake_envelope(Uuid::now_v7(), 5, "referral.acknowledge", "g");
    let (report, _) = receive_batch(
        s,
        PartyCode::US,
        vec![inbound_step(
            &orphan,
            Uuid::now_v7(),
            ItemKind::Referral,
            &acknowledge,
        )],
    )
    .await
    .unwrap();
    match &report.rejected {
        Some((
            0,
            InboundRejection::Refused(StepRefused {
                code: "unknown-item",
                ..
            }),
        )) => {}
        other => panic!("expected unknown-item, got {other:?}"),
    }
    // A step the state machine refuses leaves the item as it was.
    let refuse = refuses("already-done");
    let twice = fake_envelope(Uuid::now_v7(), 5, "referral.acknowledge", "h");
    let audit_before = audit_len(s).await;
    let (report, given) = receive_batch(
        s,
        PartyCode::US,
        vec![inbound_step(
            &twice,
            referral.id,
            ItemKind::Referral,
            &refuse,
        )],
    )
    .await
    .unwrap();
    assert_eq!(
        report.rejected,
        Some((
            0,
            InboundRejection::Refused(StepRefused {
                code: "already-done",
                detail: "refused: already-done".into()
            })
        ))
    );
    assert_eq!(given, (6, vec![], 5));
    assert_eq!(s.get_item(referral.id).await.unwrap().unwrap(), item);
    assert_eq!(audit_len(s).await, audit_before + 1, "only the receipt");

    // Receipts to the peer are numbered 1, 2, 3, … apart from its messages.
    let receipts: Vec<u64> = envelopes_of(s, PartyCode::US)
        .await
        .into_iter()
        .filter(|(_, r)| r.stream == Stream::Receipt)
        .map(|(_, r)| r.envelope.seq)
        .collect();
    assert_eq!(receipts, vec![1, 2, 3, 4, 5, 6]);
    let us = s.peer(PartyCode::US).await.unwrap().unwrap();
    assert_eq!(us.next_in_seq, 5);

    // From a party that is not a peer: nothing, not even a receipt.
    let stranger = fake_envelope(Uuid::now_v7(), 1, "referral", "i");
    let e = receive_batch(
        s,
        PartyCode::parse("CA").unwrap(),
        vec![inbound_item(&stranger, ItemKind::Referral)],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, StoreError::NotFound { kind: "peer", .. }),
        "{e:?}"
    );
    // A receipt that cannot be sealed stores nothing of the batch.
    let audit_before = audit_len(s).await;
    let n = fake_envelope(Uuid::now_v7(), 5, "referral", "j");
    let seal = |_: u64, _: &[Accepted], _: u64| Err::<SealedEnvelope, _>("no key".to_owned());
    let e = s
        .receive(
            &ctx(),
            PartyCode::US,
            vec![inbound_item(&n, ItemKind::Referral)],
            &seal,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Seal(_)), "{e:?}");
    assert_eq!(s.get_item(n.id).await.unwrap(), None);
    assert_eq!(audit_len(s).await, audit_before);
    assert_eq!(s.peer(PartyCode::US).await.unwrap().unwrap().next_in_seq, 5);
    assert_eq!(s.verify_audit().await.unwrap().first_bad, None);
}

async fn items_filter_page_and_keep_their_steps(h: H) {
    as_mx(&h).await;
    let s = h.s();
    let gt = PartyCode::parse("GT").unwrap();
    s.put_peer(&ctx(), &card(PartyCode::US, 1)).await.unwrap();
    s.put_peer(&ctx(), &card(gt, 2)).await.unwrap();
    let mut referrals_to_us = Vec::new();
    for i in 0..5 {
        let urgency = if i % 2 == 0 { "urgent" } else { "routine" };
        referrals_to_us.push(
            send_new(s, PartyCode::US, ItemKind::Referral, urgency)
                .await
                .item,
        );
    }
    let mut requests_to_gt = Vec::new();
    for _ in 0..3 {
        requests_to_gt.push(send_new(s, gt, ItemKind::Request, "routine").await.item);
    }
    let inbound: Vec<SealedEnvelope> = (1..=2)
        .map(|seq| fake_envelope(Uuid::now_v7(), seq, "referral", "in"))
        .collect();
    let (report, _) = receive_batch(
        s,
        PartyCode::US,
        inbound
            .iter()
            .map(|e| inbound_item(e, ItemKind::Referral))
            .collect(),
    )
    .await
    .unwrap();
    assert_eq!(report.accepted.len(), 2);

    // One item walks through three steps: they come back in order.
    let (ack, assign, close) = (
        becomes("acknowledged"),
        becomes("assigned"),
        becomes("closed"),
    );
    let walked = s.get_item(inbound[0].id).await.unwrap().unwrap();
    let mut envelopes = Vec::new();
    for (step, decide) in [
        ("acknowledge", &ack as &Decide),
        ("assign", &assign),
        ("outcome", &close),
    ] {
        let current = s.get_item(walked.id).await.unwrap().unwrap();
        envelopes.push(
            send_step(s, PartyCode::US, &current, step, decide)
                .await
                .unwrap()
                .envelope
                .id,
        );
    }
    let walked = s.get_item(walked.id).await.unwrap().unwrap();
    let steps: Vec<(u32, &str, Uuid)> = walked
        .steps
        .iter()
        .map(|st| (st.index, st.step.as_str(), st.envelope))
        .collect();
    assert_eq!(
        steps,
        vec![
            (0, "referral.acknowledge", envelopes[0]),
            (1, "referral.assign", envelopes[1]),
            (2, "referral.outcome", envelopes[2]),
        ]
    );
    assert_eq!(
        (
            walked.state.state.as_str(),
            walked.state.agency.as_deref(),
            walked.state.closure.as_deref()
        ),
        ("closed", Some("SEMAR"), Some("acted"))
    );
    assert!(walked.state.acknowledged_at.is_some() && walked.state.closed_at.is_some());
    assert_eq!(s.get_item(Uuid::now_v7()).await.unwrap(), None);

    let list = |filter: ItemFilter, limit: u32| async move {
        all_pages!(
            limit,
            |page| s.list_items(&filter, page),
            |i: &ExchangeItem| i.id
        )
    };
    let ids = |items: &[ExchangeItem]| items.iter().map(|i| i.id).collect::<Vec<_>>();
    let all = list(ItemFilter::default(), 3).await;
    assert_eq!(all.len(), 10);
    // Every listed item carries its steps, as `get_item` gives them.
    for i in &all {
        assert_eq!(Some(i), s.get_item(i.id).await.unwrap().as_ref());
    }
    let referrals = list(
        ItemFilter {
            kind: Some(ItemKind::Referral),
            ..Default::default()
        },
        2,
    )
    .await;
    assert_eq!(referrals.len(), 7);
    let to_gt = list(
        ItemFilter {
            recipient: Some(gt),
            ..Default::default()
        },
        2,
    )
    .await;
    assert_eq!(ids(&to_gt), ids(&requests_to_gt));
    let from_us = list(
        ItemFilter {
            originator: Some(PartyCode::US),
            ..Default::default()
        },
        1,
    )
    .await;
    assert_eq!(
        ids(&from_us),
        inbound.iter().map(|e| e.id).collect::<Vec<_>>()
    );
    let urgent_mine = list(
        ItemFilter {
            originator: Some(PartyCode::MX),
            urgency: Some("urgent".into()),
            ..Default::default()
        },
        2,
    )
    .await;
    assert_eq!(
        ids(&urgent_mine),
        vec![
            referrals_to_us[0].id,
            referrals_to_us[2].id,
            referrals_to_us[4].id
        ]
    );
    let closed = list(
        ItemFilter {
            state: Some("closed".into()),
            ..Default::default()
        },
        5,
    )
    .await;
    assert_eq!(ids(&closed), vec![walked.id]);
    let semar = list(
        ItemFilter {
            agency: Some("SEMAR".into()),
            kind: Some(ItemKind::Referral),
            ..Default::default()
        },
        5,
    )
    .await;
    assert_eq!(ids(&semar), vec![walked.id]);
    let asked = list(
        ItemFilter {
            state: Some("asked".into()),
            kind: Some(ItemKind::Request),
            ..Default::default()
        },
        5,
    )
    .await;
    assert_eq!(asked.len(), 3);
    let none = list(
        ItemFilter {
            kind: Some(ItemKind::Request),
            recipient: Some(PartyCode::US),
            ..Default::default()
        },
        5,
    )
    .await;
    assert!(none.is_empty());
    let empty = s
        .list_items(
            &ItemFilter::default(),
            Page {
                after: None,
                limit: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!((empty.items.len(), empty.next), (0, None));
}

async fn concurrent_sends_get_consecutive_seqs(h: H) {
    as_mx(&h).await;
    const TASKS: usize = 8;
    const EACH: usize = 5;
    h.s()
        .put_peer(&ctx(), &card(PartyCode::US, 1))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for _ in 0..EACH {
                seqs.push(
                    send_new(h.s(), PartyCode::US, ItemKind::Referral, "urgent")
                        .await
                        .envelope
                        .seq,
                );
            }
            seqs
        }));
    }
    let mut seqs = BTreeSet::new();
    for t in tasks {
        for seq in t.await.unwrap() {
            assert!(seqs.insert(seq), "seq {seq} given twice");
        }
    }
    let n = (TASKS * EACH) as u64;
    assert_eq!(
        seqs.into_iter().collect::<Vec<_>>(),
        (1..=n).collect::<Vec<_>>()
    );
    let s = h.s();
    let outbox = s.outbox(PartyCode::US, 1000).await.unwrap();
    assert_eq!(
        outbox.iter().map(|r| r.envelope.seq).collect::<Vec<_>>(),
        (1..=n).collect::<Vec<_>>()
    );
    let us = s.peer(PartyCode::US).await.unwrap().unwrap();
    assert_eq!((us.next_out_seq, us.backlog), (n + 1, n));
    assert_eq!(s.verify_audit().await.unwrap().first_bad, None);
}

async fn a_batch_of_sends_commits_each_on_its_own_merits(h: H) {
    as_mx(&h).await;
    let s = h.s();
    s.put_peer(&ctx(), &card(PartyCode::US, 1)).await.unwrap();
    let first = send_new(s, PartyCode::US, ItemKind::Referral, "routine").await;
    let audit_before = s.list_audit(None, 10_000).await.unwrap().len();
    let job_new = |to: PartyCode| {
        let id = Uuid::now_v7();
        SendJob {
            ctx: ctx(),
            to,
            effect: JobEffect::NewItem(new_item(
                id,
                ItemKind::Referral,
                PartyCode::MX,
                to,
                "flash",
            )),
            seal: Box::new(move |seq| Ok(fake_envelope(id, seq, "referral", "batch"))),
        }
    };
    let job_step = |decide: Box<Decide>| {
        let id = Uuid::now_v7();
        SendJob {
            ctx: ctx(),
            to: PartyCode::US,
            effect: JobEffect::Step(OwnedStep {
                item: first.item.id,
                kind: ItemKind::Referral,
                step: "referral.withdraw".into(),
                by: PartyCode::MX,
                at: now_us(),
                body: "{}".into(),
                decide,
            }),
            seal: Box::new(move |seq| Ok(fake_envelope(id, seq, "referral.withdraw", "batch"))),
        }
    };
    // A good send, one refused by the state machine, one to an unknown peer, one whose sealer
    // fails, and two more good ones: the bad ones leave nothing behind and use no seq.
    let jobs = vec![
        job_new(PartyCode::US),
        job_step(Box::new(refuses("out-of-order"))),
        job_new(PartyCode::parse("CA").unwrap()),
        SendJob {
            seal: Box::new(|_| Err("no key".to_owned())),
            ..job_new(PartyCode::US)
        },
        job_step(Box::new(becomes("withdrawn"))),
        job_new(PartyCode::US),
    ];
    let results = s.send_batch(jobs).await.unwrap();
    let seqs: Vec<Option<u64>> = results
        .iter()
        .map(|r| r.as_ref().ok().map(|sent| sent.envelope.seq))
        .collect();
    assert_eq!(seqs, [Some(2), None, None, None, Some(3), Some(4)]);
    assert!(matches!(
        results[1],
        Err(StoreError::StepRefused {
            code: "out-of-order",
            ..
        })
    ));
    assert!(matches!(
        results[2],
        Err(StoreError::NotFound { kind: "peer", .. })
    ));
    assert!(matches!(results[3], Err(StoreError::Seal(_))));
    let item = s.get_item(first.item.id).await.unwrap().unwrap();
    assert_eq!(
        (item.state.state.as_str(), item.steps.len()),
        ("withdrawn", 1)
    );
    let outbox = s.outbox(PartyCode::US, 100).await.unwrap();
    assert_eq!(
        outbox.iter().map(|r| r.envelope.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    // One audit entry per send that was stored, and the chain still verifies.
    let audit_after = s.list_audit(None, 10_000).await.unwrap().len();
    assert_eq!(audit_after - audit_before, 3);
    assert_eq!(s.verify_audit().await.unwrap().first_bad, None);

    // A group of new items only (written together, in a few statements) stores exactly what the
    // sends one by one would have: consecutive seqs per peer, the items as returned, one audit
    // entry each.
    let gt = PartyCode::parse("GT").unwrap();
    s.put_peer(&ctx(), &card(gt, 2)).await.unwrap();
    let before = s.list_audit(None, 10_000).await.unwrap().len();
    let group = vec![
        job_new(PartyCode::US),
        job_new(gt),
        job_new(PartyCode::US),
        job_new(gt),
    ];
    let results = s.send_batch(group).await.unwrap();
    let sent: Vec<Sent> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        sent.iter().map(|x| x.envelope.seq).collect::<Vec<_>>(),
        [5, 1, 6, 2]
    );
    for x in &sent {
        assert_eq!(s.get_item(x.item.id).await.unwrap().as_ref(), Some(&x.item));
    }
    assert_eq!(s.list_audit(None, 10_000).await.unwrap().len() - before, 4);
    let gt_peer = s.peer(gt).await.unwrap().unwrap();
    assert_eq!((gt_peer.next_out_seq, gt_peer.backlog), (3, 2));
    // A group with a bad send in it falls back to one send at a time: the others are stored.
    let results = s
        .send_batch(vec![
            job_new(PartyCode::US),
            job_new(PartyCode::parse("CA").unwrap()),
            job_new(PartyCode::US),
        ])
        .await
        .unwrap();
    assert_eq!(
        results
            .iter()
            .map(|r| r.as_ref().ok().map(|x| x.envelope.seq))
            .collect::<Vec<_>>(),
        [Some(7), None, Some(8)]
    );
    assert_eq!(s.verify_audit().await.unwrap().first_bad, None);
}

async fn a_message_repeated_within_one_batch_is_held_once(h: H) {
    as_mx(&h).await;
    let s = h.s();
    s.put_peer(&ctx(), &card(PartyCode::US, 1)).await.unwrap();
    let referral = fake_envelope(Uuid::now_v7(), 1, "referral", "a");
    let second = fake_envelope(Uuid::now_v7(), 2, "referral", "b");
    let before = audit_len(s).await;
    // The same envelope twice in one batch: accepted (and listed) twice, stored once.
    let (report, _) = receive_batch(
        s,
        PartyCode::US,
        vec![
            inbound_item(&referral, ItemKind::Referral),
            inbound_item(&referral, ItemKind::Referral),
            inbound_item(&second, ItemKind::Referral),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        (report.accepted.len(), &report.rejected, report.next_seq),
        (3, &None, 3)
    );
    // Two receives and the receipt.
    assert_eq!(audit_len(s).await - before, 3);
    let held = s.list_envelopes(PartyCode::US, None, 100).await.unwrap();
    let inbound = held
        .iter()
        .filter(|(_, r)| r.direction == EnvelopeDirection::In)
        .count();
    assert_eq!(inbound, 2);
    // The same id with other bytes later in the same batch is a replay, and stops it there.
    let third = fake_envelope(Uuid::now_v7(), 3, "referral", "c");
    let forged = fake_envelope(third.id, 3, "referral", "forged");
    let (report, _) = receive_batch(
        s,
        PartyCode::US,
        vec![
            inbound_item(&third, ItemKind::Referral),
            inbound_item(&forged, ItemKind::Referral),
        ],
    )
    .await
    .unwrap();
    assert_eq!(report.accepted.len(), 1);
    assert_eq!(
        report.rejected,
        Some((1, InboundRejection::Replayed { id: third.id }))
    );
    assert_eq!(s.verify_audit().await.unwrap().first_bad, None);
}

/// A client that hangs up drops its request's future wherever it is — even in the middle of
/// beginning a transaction. (sqlx 0.8 could then leave the connection inside a transaction, and
/// SQLite's single write connection with it: every later write failed.)
async fn writes_abandoned_halfway_leave_the_store_writable(h: H) {
    let s = h.s();
    let entry = |n: u32| NewAuditEntry {
        at: now_us(),
        actor: "test".into(),
        ip: None,
        action: "test.abandoned".into(),
        target: Some(n.to_string()),
        detail: "{}".into(),
    };
    for n in 0..2_000u32 {
        // Cancelled after 0–49 µs: before, during or after the BEGIN.
        let _ = tokio::time::timeout(
            std::time::Duration::from_micros(u64::from(n % 50)),
            s.append_audit(&entry(n)),
        )
        .await;
    }
    s.append_audit(&entry(u32::MAX)).await.unwrap();
    assert!(
        s.list_users(Page {
            after: None,
            limit: 1
        })
        .await
        .is_ok()
    );
    assert_eq!(s.verify_audit().await.unwrap().first_bad, None);
}

// ---------------------------------------------------------------------------------------------
// The exchange log

/// Every envelope's leaf, from the envelopes as listed, in the order stored.
async fn leaves_of_envelopes(
    s: &dyn Store,
    peer: PartyCode,
) -> Vec<(String, String, u64, [u8; 32])> {
    s.list_envelopes(peer, None, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| {
            (
                e.direction.as_str().to_owned(),
                e.stream.as_str().to_owned(),
                e.envelope.seq,
                e.envelope.hash,
            )
        })
        .collect()
}

async fn log_leaves(s: &dyn Store, peer: PartyCode) -> Vec<(String, String, u64, [u8; 32])> {
    s.log_leaves(&puente_log::origin(PartyCode::MX, peer), 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, (idx, l))| {
            assert_eq!(idx, i as u64);
            let (sender, recipient) = match l.direction {
                puente_log::Direction::Out => (PartyCode::MX, peer),
                puente_log::Direction::In => (peer, PartyCode::MX),
            };
            assert_eq!((l.sender, l.recipient), (sender, recipient));
            (
                l.direction.as_str().to_owned(),
                l.stream.as_str().to_owned(),
                l.seq,
                l.envelope_sha256,
            )
        })
        .collect()
}

async fn the_log_holds_every_envelope_in_the_order_stored(h: H) {
    as_mx(&h).await;
    let s = h.s();
    s.put_peer(&ctx(), &card(PartyCode::US, 1)).await.unwrap();
    let mut sent = Vec::new();
    for _ in 0..3 {
        sent.push(send_new(s, PartyCode::US, ItemKind::Referral, "urgent").await);
    }
    let referral = fake_envelope(Uuid::now_v7(), 1, "referral", "a");
    receive_batch(
        s,
        PartyCode::US,
        vec![inbound_item(&referral, ItemKind::Referral)],
    )
    .await
    .unwrap();
    let receipt = fake_envelope(Uuid::now_v7(), 1, "receipt", "r");
    let all: Vec<Accepted> = sent.iter().map(|x| accepted(&x.envelope)).collect();
    s.record_receipt(PartyCode::US, &receipt, &all, now_us())
        .await
        .unwrap();
    // The same receipt again is not stored again, nor logged again.
    s.record_receipt(PartyCode::US, &receipt, &all, now_us())
        .await
        .unwrap();
    let held = leaves_of_envelopes(s, PartyCode::US).await;
    assert_eq!(
        held.len(),
        6,
        "3 sent, 1 received, its receipt, 1 receipt received"
    );
    assert_eq!(log_leaves(s, PartyCode::US).await, held);
    let state = s.log_state(PartyCode::US, true).await.unwrap().unwrap();
    let hashes: Vec<[u8; 32]> = s
        .log_leaves(&state.origin, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|(_, l)| l.hash())
        .collect();
    assert_eq!(
        (state.size(), state.root()),
        (6, puente_log::merkle::root(&hashes))
    );
    // Each envelope knows its index in the log.
    let record = s
        .envelope_by_id(PartyCode::US, sent[1].envelope.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.log_index, Some(1));
    let ids: Vec<Uuid> = sent.iter().map(|x| x.envelope.id).collect();
    let indexes = s
        .log_indexes_of_envelopes(PartyCode::US, &ids)
        .await
        .unwrap();
    assert_eq!(indexes, vec![(ids[0], 0), (ids[1], 1), (ids[2], 2)]);
    // No copy of US's log yet: nothing was cosigned.
    assert_eq!(s.log_state(PartyCode::US, false).await.unwrap(), None);
    // The audit entries of the sends name the log index each touched.
    let audit = s.list_audit(None, 1000).await.unwrap();
    let indexes: Vec<u64> = audit
        .iter()
        .filter(|e| e.entry.action == "referral.create.send")
        .map(|e| {
            let d: serde_json::Value = serde_json::from_str(&e.entry.detail).unwrap();
            d["log_index"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(indexes, [0, 1, 2]);
}

async fn a_log_created_late_takes_the_envelopes_stored_before(h: H) {
    as_mx(&h).await;
    let s = h.s();
    s.put_peer(&ctx(), &card(PartyCode::US, 1)).await.unwrap();
    for _ in 0..3 {
        send_new(s, PartyCode::US, ItemKind::Request, "routine").await;
    }
    // As on a database from before the log existed.
    for table in ["log_nodes", "log_leaves", "checkpoints", "logs"] {
        h.raw(&format!("DELETE FROM {table}")).await;
    }
    send_new(s, PartyCode::US, ItemKind::Request, "routine").await;
    let held = leaves_of_envelopes(s, PartyCode::US).await;
    assert_eq!(held.len(), 4);
    assert_eq!(log_leaves(s, PartyCode::US).await, held);
}

async fn subtree_heads_from_stored_nodes_and_leaves_agree_with_the_reference(h: H) {
    as_mx(&h).await;
    let s = h.s();
    s.put_peer(&ctx(), &card(PartyCode::US, 1)).await.unwrap();
    // 600 envelopes in groups: subtrees of 16 leaves and more are complete and stored, smaller
    // ones (and those on the right edge) come from their leaves.
    for _ in 0..3 {
        let jobs: Vec<SendJob> = (0..200)
            .map(|_| {
                let id = Uuid::now_v7();
                SendJob {
                    ctx: ctx(),
                    to: PartyCode::US,
                    effect: JobEffect::NewItem(new_item(
                        id,
                        ItemKind::Referral,
                        PartyCode::MX,
                        PartyCode::US,
                        "routine",
                    )),
                    seal: Box::new(move |seq| Ok(fake_envelope(id, seq, "referral", "bulk"))),
                }
            })
            .collect();
        for r in s.send_batch(jobs).await.unwrap() {
            r.unwrap();
        }
    }
    let origin = puente_log::origin(PartyCode::MX, PartyCode::US);
    let hashes: Vec<[u8; 32]> = s
        .log_leaves(&origin, 0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|(_, l)| l.hash())
        .collect();
    assert_eq!(hashes.len(), 600);
    let ask = [
        puente_log::Subtree { level: 9, index: 0 },
        puente_log::Subtree { level: 8, index: 1 },
        puente_log::Subtree { level: 8, index: 0 },
        puente_log::Subtree {
            level: 3,
            index: 70,
        },
        puente_log::Subtree {
            level: 0,
            index: 599,
        },
        puente_log::Subtree { level: 6, index: 8 },
        puente_log::Subtree {
            level: 4,
            index: 36,
        },
        puente_log::Subtree {
            level: 2,
            index: 149,
        },
    ];
    let got = s.log_subtree_heads(&origin, &ask).await.unwrap();
    for (t, h) in ask.iter().zip(&got) {
        let want = puente_log::merkle::root(&hashes[t.start() as usize..t.end() as usize]);
        assert_eq!(*h, want, "{t:?}");
    }
    // Only subtrees smaller than the stored ones: every head from leaves (on PostgreSQL such a
    // statement once had a column of the wrong width).
    let small = [
        puente_log::Subtree { level: 0, index: 3 },
        puente_log::Subtree {
            level: 2,
            index: 149,
        },
    ];
    let got = s.log_subtree_heads(&origin, &small).await.unwrap();
    for (t, h) in small.iter().zip(&got) {
        let want = puente_log::merkle::root(&hashes[t.start() as usize..t.end() as usize]);
        assert_eq!(*h, want, "{t:?}");
    }
    // A subtree beyond the log is not invented.
    assert!(
        s.log_subtree_heads(&origin, &[puente_log::Subtree { level: 9, index: 1 }])
            .await
            .is_err()
    );
    // Every proof from stored heads equals the reference, here for a few indexes and sizes.
    for (index, size) in [
        (0u64, 600u64),
        (255, 600),
        (256, 512),
        (599, 600),
        (300, 301),
        (3, 5),
        (10, 16),
    ] {
        let ranges = puente_log::merkle::inclusion_ranges(index, size).unwrap();
        let mut proof = Vec::new();
        for (a, b) in ranges {
            let trees = puente_log::merkle::subtrees(a, b);
            let heads = s.log_subtree_heads(&origin, &trees).await.unwrap();
            proof.push(puente_log::merkle::fold(&heads));
        }
        assert_eq!(
            proof,
            puente_log::merkle::inclusion_proof(&hashes[..size as usize], index).unwrap()
        );
    }
}

/// A cosigning request from US for US's log, as this node (MX) receives it.
fn witness_request(
    leaves: &[puente_log::Leaf],
    from: u64,
    before: &puente_log::CompactRange,
) -> puente_store::log::WitnessRequest {
    let mut range = before.clone();
    for l in leaves {
        range.append(l.hash(), |_, _| {});
    }
    let c = puente_log::Checkpoint {
        origin: puente_log::origin(PartyCode::US, PartyCode::MX),
        size: range.size(),
        root: range.root(),
    };
    puente_store::log::WitnessRequest {
        peer: PartyCode::US,
        note: format!("{}\n— puente/US/exchange/MX AAAAAA==\n", c.to_text()),
        size: c.size,
        root: c.root,
        from,
        leaves: leaves.to_vec(),
    }
}

fn us_leaf(direction: puente_log::Direction, seq: u64, hash: [u8; 32]) -> puente_log::Leaf {
    let (sender, recipient) = match direction {
        puente_log::Direction::Out => (PartyCode::US, PartyCode::MX),
        puente_log::Direction::In => (PartyCode::MX, PartyCode::US),
    };
    puente_log::Leaf {
        sender,
        recipient,
        direction,
        stream: puente_log::Stream::Message,
        seq,
        logged: now_us(),
        envelope_sha256: hash,
    }
}

async fn cosigning_extends_the_copy_once_and_disputes_the_rest(h: H) {
    use puente_log::Direction::{In, Out};
    use puente_store::log::WitnessOutcome;
    as_mx(&h).await;
    let s = h.s();
    s.put_peer(&ctx(), &card(PartyCode::US, 1)).await.unwrap();
    // MX sent US two messages; US sent MX one.
    let a = send_new(s, PartyCode::US, ItemKind::Referral, "urgent").await;
    let b = send_new(s, PartyCode::US, ItemKind::Referral, "urgent").await;
    let theirs = fake_envelope(Uuid::now_v7(), 1, "referral", "us");
    receive_batch(
        s,
        PartyCode::US,
        vec![inbound_item(&theirs, ItemKind::Referral)],
    )
    .await
    .unwrap();
    let cosign =
        |text: &str| -> Result<String, String> { Ok(format!("— cosigned {}\n", text.len())) };
    let dispute =
        |c: &puente_store::log::DisputeContext<'_>| format!("evidence: {}", c.finding.detail());
    let honest = vec![
        us_leaf(In, 1, a.envelope.hash),
        us_leaf(Out, 1, theirs.hash),
        us_leaf(In, 2, b.envelope.hash),
    ];
    let empty = puente_log::CompactRange::empty();

    // Out of order, or naming an envelope MX never sent: a dispute, and nothing cosigned.
    let mut swapped = honest.clone();
    swapped.swap(0, 2);
    let r = witness_request(&swapped, 0, &empty);
    let out = s.witness(&ctx(), &r, &cosign, &dispute).await.unwrap();
    assert!(matches!(out, WitnessOutcome::Disputed { .. }), "{out:?}");
    let mut altered = honest.clone();
    altered[2].envelope_sha256 = [7; 32];
    let out = s
        .witness(
            &ctx(),
            &witness_request(&altered, 0, &empty),
            &cosign,
            &dispute,
        )
        .await
        .unwrap();
    assert!(matches!(out, WitnessOutcome::Disputed { .. }), "{out:?}");
    assert_eq!(
        s.log_state(PartyCode::US, false)
            .await
            .unwrap()
            .map(|l| l.size())
            .unwrap_or(0),
        0
    );
    let kinds: Vec<String> = s
        .disputes(10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.kind)
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(
        kinds.contains(&"out-of-order".to_owned())
            && kinds.contains(&"unknown-envelope".to_owned())
    );

    // The honest log in two steps: the first two leaves, then the third.
    let first = witness_request(&honest[..2], 0, &empty);
    let out = s.witness(&ctx(), &first, &cosign, &dispute).await.unwrap();
    let WitnessOutcome::Cosigned { note } = out else {
        panic!("{out:?}")
    };
    assert!(
        note.starts_with(&first.note) && note.contains("\n— cosigned "),
        "{note}"
    );
    // Asked again for the same size and head: the same cosignature, nothing new.
    let again = s.witness(&ctx(), &first, &cosign, &dispute).await.unwrap();
    assert_eq!(again, WitnessOutcome::Cosigned { note: note.clone() });
    // From the wrong size: told where the copy is.
    let mut copy = empty.clone();
    for l in &honest[..2] {
        copy.append(l.hash(), |_, _| {});
    }
    let late = witness_request(&honest[1..], 1, &{
        let mut c = empty.clone();
        c.append(honest[0].hash(), |_, _| {});
        c
    });
    let out = s.witness(&ctx(), &late, &cosign, &dispute).await.unwrap();
    assert_eq!(out, WitnessOutcome::Behind { size: 2 });
    let rest = witness_request(&honest[2..], 2, &copy);
    assert!(matches!(
        s.witness(&ctx(), &rest, &cosign, &dispute).await.unwrap(),
        WitnessOutcome::Cosigned { .. }
    ));
    let state = s.log_state(PartyCode::US, false).await.unwrap().unwrap();
    assert_eq!((state.size(), state.root()), (3, rest.root));
    // Another head at a size cosigned before: a fork, raised once.
    let mut forked = honest[..2].to_vec();
    forked[1].logged += Duration::seconds(1);
    let fork = witness_request(&forked, 0, &empty);
    for _ in 0..2 {
        let out = s.witness(&ctx(), &fork, &cosign, &dispute).await.unwrap();
        assert!(matches!(out, WitnessOutcome::Disputed { .. }), "{out:?}");
    }
    let forks: Vec<_> = s
        .disputes(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.kind == "fork")
        .collect();
    assert_eq!(forks.len(), 1);
    assert_eq!(
        s.dispute(forks[0].id).await.unwrap().unwrap().evidence,
        forks[0].evidence
    );

    // A leaf naming a message of US's that MX does not hold yet waits; once it arrives with
    // another hash than the leaf named, it is returned to be disputed, and with the same hash,
    // it is forgotten.
    let second = fake_envelope(Uuid::now_v7(), 2, "referral", "us2");
    let third = fake_envelope(Uuid::now_v7(), 3, "referral", "us3");
    let mut further = honest.clone();
    further.push(us_leaf(Out, 2, [9; 32]));
    further.push(us_leaf(Out, 3, third.hash));
    let next = witness_request(&further[3..], 3, &{
        let mut c = empty.clone();
        for l in &honest {
            c.append(l.hash(), |_, _| {});
        }
        c
    });
    assert!(matches!(
        s.witness(&ctx(), &next, &cosign, &dispute).await.unwrap(),
        WitnessOutcome::Cosigned { .. }
    ));
    assert_eq!(s.settle_pending(PartyCode::US).await.unwrap(), vec![]);
    let pending = "UPDATE log_pending SET idx = idx";
    assert_eq!(h.raw(pending).await, 2);
    receive_batch(
        s,
        PartyCode::US,
        vec![
            inbound_item(&second, ItemKind::Referral),
            inbound_item(&third, ItemKind::Referral),
        ],
    )
    .await
    .unwrap();
    for _ in 0..2 {
        let mismatched = s.settle_pending(PartyCode::US).await.unwrap();
        assert_eq!(mismatched.len(), 1);
        assert_eq!((mismatched[0].0, mismatched[0].1), (3, [9; 32]));
        assert_eq!(mismatched[0].2.id, second.id);
        assert_eq!(
            h.raw(pending).await,
            1,
            "the leaf that named `third` is settled"
        );
    }

    // What US's log must show by now and does not: the copy holds all three, so nothing; a
    // message MX sends now is not due before its receipt.
    assert_eq!(
        s.unlogged(PartyCode::US, now_us() + Duration::hours(1), 100)
            .await
            .unwrap(),
        vec![]
    );
    let c = send_new(s, PartyCode::US, ItemKind::Referral, "urgent").await;
    let receipt = fake_envelope(Uuid::now_v7(), 1, "receipt", "r");
    s.record_receipt(PartyCode::US, &receipt, &[accepted(&c.envelope)], now_us())
        .await
        .unwrap();
    let missing = s
        .unlogged(PartyCode::US, now_us() + Duration::hours(1), 100)
        .await
        .unwrap();
    let ids: Vec<Uuid> = missing.iter().map(|m| m.id).collect();
    assert_eq!(
        ids,
        vec![receipt.id, c.envelope.id],
        "US's receipt, and MX's message it acknowledged"
    );
    assert!(
        s.unlogged(PartyCode::US, now_us() - Duration::hours(1), 100)
            .await
            .unwrap()
            .is_empty()
    );
}
