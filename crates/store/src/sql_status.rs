//! Commitment counts per agency, measure area and status on any day, kept up to date on every
//! write, so the program officer's home page and the progress report read a few hundred rows
//! instead of deciding the status of every commitment (a scan of the whole table). Likewise the
//! number of actions per day and agency (`action_days`), for a period's count of actions.
//!
//! Three tables (migration 0006):
//! - `status_counts`: the counts on the day `status_counts_state.as_of` (the base day);
//! - `status_steps`: per day, how the counts change on that day — the net of every commitment's
//!   status changes ([`StatusSchedule::changes`]), kept for every day, past and future;
//! - `status_counts_state`: one row, the base day.
//!
//! The counts on day `t` are the base plus the steps in `(as_of, t]`, or the base minus the steps
//! in `(t, as_of]`. Every write of a commitment's agency, area or schedule takes its old share out
//! and puts its new one in, in the same transaction ([`shift`]); writes are serialised per node
//! (see `sql`), so no two writers move the base at once. A write also moves the base forward to
//! its own day, so reads of today's counts add up few steps.

use std::collections::BTreeMap;

use puente_domain::{Status, StatusSchedule};
use time::Date;

use crate::rows::{CommitmentBody, ScheduleCols, date_text, parse_date};
use crate::sql::{Arg, Conn, IN_IDS, Sql, fetch_one, in_list};
use crate::{Result, StoreError};

/// One commitment's part in the counts: where it is counted and how its status moves.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Share {
    pub agency: String,
    pub area: String,
    pub schedule: StatusSchedule,
}

impl Share {
    /// The share of a commitment stored with `body`'s columns and `schedule`.
    pub fn new(body: &CommitmentBody, schedule: StatusSchedule) -> Self {
        Self {
            agency: body.agency.clone(),
            area: body.area.clone(),
            schedule,
        }
    }
}

/// A commitment as stored, as far as its schedule and its share depend on it.
#[derive(Debug)]
pub(crate) struct Stored {
    pub id: String,
    pub start: Date,
    pub share: Share,
}

#[derive(Debug, sqlx::FromRow)]
struct StoredRow {
    id: String,
    start_date: String,
    due_date: String,
    agency: String,
    area: String,
    #[sqlx(flatten)]
    schedule: ScheduleCols,
}

impl StoredRow {
    fn into_stored(self) -> Result<Stored> {
        const K: &str = "commitment";
        let start = parse_date(K, &self.id, &self.start_date)?;
        let due = parse_date(K, &self.id, &self.due_date)?;
        let schedule = self.schedule.into_schedule(&self.id, due)?;
        Ok(Stored {
            id: self.id,
            start,
            share: Share {
                agency: self.agency,
                area: self.area,
                schedule,
            },
        })
    }
}

const STORED_COLS: &str = "id, start_date, due_date, agency, area, sched_done, \
                           sched_not_started_until, sched_at_risk_from";

/// The commitments `ids` as stored (unknown ids are left out), in no particular order.
pub(crate) async fn stored<C: Conn + ?Sized>(c: &mut C, ids: &[String]) -> Result<Vec<Stored>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IN_IDS) {
        let mut q = Sql::new("");
        let list = in_list(&mut q, chunk.iter().cloned());
        q.text = format!("SELECT {STORED_COLS} FROM commitments WHERE id {list}");
        let rows: Vec<StoredRow> = c.fetch(&q).await?;
        for r in rows {
            out.push(r.into_stored()?);
        }
    }
    Ok(out)
}

/// The base day of the counts, if they have been built.
async fn base_day<C: Conn + ?Sized>(c: &mut C) -> Result<Option<Date>> {
    let row =
        fetch_one::<(String,), C>(c, &Sql::new("SELECT as_of FROM status_counts_state")).await?;
    row.map(|r| parse_date("status counts", "state", &r.0))
        .transpose()
}

/// The base day; the counts are built when a store is opened, so there is always one.
async fn built_base_day<C: Conn + ?Sized>(c: &mut C) -> Result<Date> {
    base_day(c).await?.ok_or_else(|| StoreError::Corrupt {
        kind: "status counts",
        id: "state".into(),
        reason: "no base day (the store was not opened through open/connect)".into(),
    })
}

/// The base day, first moved forward to `today` if it is earlier.
async fn advance<C: Conn + ?Sized>(c: &mut C, today: Date) -> Result<Date> {
    let as_of = built_base_day(c).await?;
    if as_of >= today {
        return Ok(as_of);
    }
    c.run(
        &Sql::new(
            "INSERT INTO status_counts (agency, area, status, n) \
             SELECT agency, area, status, CAST(SUM(n) AS BIGINT) FROM status_steps \
             WHERE day > $1 AND day <= $2 GROUP BY agency, area, status \
             ON CONFLICT (agency, area, status) DO UPDATE SET n = status_counts.n + excluded.n",
        )
        .bind(date_text(as_of))
        .bind(date_text(today)),
    )
    .await?;
    c.run(&Sql::new("UPDATE status_counts_state SET as_of = $1").bind(date_text(today)))
        .await?;
    Ok(today)
}

/// Takes the shares `out` out of the counts and puts `into` in, as a write on `today`.
pub(crate) async fn shift<C: Conn + ?Sized>(
    c: &mut C,
    today: Date,
    out: &[&Share],
    into: &[&Share],
) -> Result<()> {
    if out.is_empty() && into.is_empty() {
        return Ok(());
    }
    let as_of = advance(c, today).await?;
    let mut base: BTreeMap<(&str, &str, Status), i64> = BTreeMap::new();
    let mut steps: BTreeMap<(Date, &str, &str, Status), i64> = BTreeMap::new();
    for (sign, shares) in [(-1i64, out), (1, into)] {
        for s in shares {
            let (agency, area) = (s.agency.as_str(), s.area.as_str());
            *base
                .entry((agency, area, s.schedule.status_on(as_of)))
                .or_default() += sign;
            let (mut was, changes) = s.schedule.changes();
            for (day, now) in changes {
                *steps.entry((day, agency, area, was)).or_default() -= sign;
                *steps.entry((day, agency, area, now)).or_default() += sign;
                was = now;
            }
        }
    }
    let base: Vec<Vec<Arg>> = base
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|((agency, area, status), n)| {
            vec![
                agency.into(),
                area.into(),
                status.as_str().into(),
                Arg::Int(n),
            ]
        })
        .collect();
    let steps: Vec<Vec<Arg>> = steps
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|((day, agency, area, status), n)| {
            vec![
                date_text(day).into(),
                agency.into(),
                area.into(),
                status.as_str().into(),
                Arg::Int(n),
            ]
        })
        .collect();
    add_to(c, "status_counts", &["agency", "area", "status"], base).await?;
    add_to(
        c,
        "status_steps",
        &["day", "agency", "area", "status"],
        steps,
    )
    .await?;
    Ok(())
}

/// Adds each row's last argument to column `n` of the row of `table` keyed by the others
/// (inserting it when missing), a few dozen rows per statement. Keys are distinct (they come from
/// a map), which PostgreSQL requires of one `ON CONFLICT DO UPDATE`.
async fn add_to<C: Conn + ?Sized>(
    c: &mut C,
    table: &str,
    key: &[&str],
    rows: Vec<Vec<Arg>>,
) -> Result<()> {
    const PER_STMT: usize = 50;
    let keys = key.join(", ");
    for chunk in rows.chunks(PER_STMT) {
        let mut q = Sql::new("");
        let mut values = Vec::with_capacity(chunk.len());
        for row in chunk {
            let ps: Vec<String> = row.iter().map(|a| q.param(a.clone())).collect();
            values.push(format!("({})", ps.join(", ")));
        }
        q.text = format!(
            "INSERT INTO {table} ({keys}, n) VALUES {} \
             ON CONFLICT ({keys}) DO UPDATE SET n = {table}.n + excluded.n",
            values.join(", ")
        );
        c.run(&q).await?;
    }
    Ok(())
}

/// Adds `n` to the actions counted for each `(day, agency)`, as `(day, agency, n)`.
pub(crate) async fn count_actions_on<C: Conn + ?Sized>(
    c: &mut C,
    changes: impl IntoIterator<Item = (String, String, i64)>,
) -> Result<()> {
    let mut by_key: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (day, agency, n) in changes {
        *by_key.entry((day, agency)).or_default() += n;
    }
    let rows = by_key
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|((day, agency), n)| vec![day.into(), agency.into(), Arg::Int(n)])
        .collect();
    add_to(c, "action_days", &["day", "agency"], rows).await
}

/// How many actions (of `agency`, when given) are dated in `[from, to]`.
pub(crate) async fn actions_in<C: Conn + ?Sized>(
    c: &mut C,
    agency: Option<&str>,
    from: Date,
    to: Date,
) -> Result<u64> {
    let mut q = Sql::new("");
    let (f, t) = (q.param(date_text(from)), q.param(date_text(to)));
    let agency_cond = match agency {
        Some(a) => format!(" AND agency = {}", q.param(a)),
        None => String::new(),
    };
    q.text = format!(
        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM action_days \
         WHERE day >= {f} AND day <= {t}{agency_cond}"
    );
    let n = fetch_one::<(i64,), C>(c, &q).await?.map_or(0, |r| r.0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// How many commitments (of `agency`, when given) have each status on `day`, per measure area,
/// as `(area, status, n)` with `n > 0`, ordered by area and status text.
pub(crate) async fn counts<C: Conn + ?Sized>(
    c: &mut C,
    agency: Option<&str>,
    day: Date,
) -> Result<Vec<(String, String, i64)>> {
    let as_of = built_base_day(c).await?;
    let mut q = Sql::new("");
    let agency_cond = match agency {
        Some(a) => format!(" AND agency = {}", q.param(a)),
        None => String::new(),
    };
    let (lo, hi, n) = if day >= as_of {
        (as_of, day, "n")
    } else {
        (day, as_of, "-n")
    };
    let (lo, hi) = (q.param(date_text(lo)), q.param(date_text(hi)));
    q.text = format!(
        "SELECT area, status, CAST(SUM(n) AS BIGINT) AS n FROM (\
         SELECT area, status, n FROM status_counts WHERE TRUE{agency_cond} \
         UNION ALL \
         SELECT area, status, {n} AS n FROM status_steps \
         WHERE day > {lo} AND day <= {hi}{agency_cond}) AS t \
         GROUP BY area, status ORDER BY area, status"
    );
    let rows: Vec<(String, String, i64)> = c.fetch(&q).await?;
    Ok(rows.into_iter().filter(|r| r.2 != 0).collect())
}

/// Builds the counts afresh from the commitments as stored, with `today` as the base day, if
/// there are none yet (a new database, or one made before migration 0006).
pub(crate) async fn ensure<C: Conn + ?Sized>(c: &mut C, today: Date) -> Result<bool> {
    if base_day(c).await?.is_some() {
        return Ok(false);
    }
    c.run(&Sql::new("DELETE FROM status_counts")).await?;
    c.run(&Sql::new("DELETE FROM status_steps")).await?;
    c.run(&Sql::new("DELETE FROM action_days")).await?;
    c.run(&Sql::new(
        "INSERT INTO action_days (day, agency, n) \
         SELECT date, agency, COUNT(*) FROM actions GROUP BY date, agency",
    ))
    .await?;
    c.run(
        &Sql::new("INSERT INTO status_counts_state (one, as_of) VALUES (1, $1)")
            .bind(date_text(today)),
    )
    .await?;
    const PAGE: i64 = 5_000;
    let mut after = String::new();
    loop {
        let rows: Vec<StoredRow> = c
            .fetch(
                &Sql::new(format!(
                    "SELECT {STORED_COLS} FROM commitments WHERE id > $1 ORDER BY id LIMIT $2"
                ))
                .bind(after.as_str())
                .bind(PAGE),
            )
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id.clone();
        let shares = rows
            .into_iter()
            .map(|r| r.into_stored().map(|s| s.share))
            .collect::<Result<Vec<_>>>()?;
        shift(c, today, &[], &shares.iter().collect::<Vec<_>>()).await?;
    }
    Ok(true)
}
