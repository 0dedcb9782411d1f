//! Dates, instants and numbers as a reader of English or of Mexican Spanish (es-MX) writes them.

use puente_domain::Lang;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTHS_ES: [&str; 12] = [
    "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic",
];

/// Formats for one language.
#[derive(Debug, Clone, Copy)]
pub struct Fmt(pub Lang);

impl Fmt {
    /// `Dec 4, 2026` or `4 dic 2026`.
    pub fn date(self, d: Date) -> String {
        let m = usize::from(u8::from(d.month())) - 1;
        match self.0 {
            Lang::En => format!("{} {}, {}", MONTHS_EN[m], d.day(), d.year()),
            Lang::Es => format!("{} {} {}", d.day(), MONTHS_ES[m], d.year()),
        }
    }

    /// A `YYYY-MM-DD` day as [`Fmt::date`] writes it; anything else as given.
    pub fn day(self, s: &str) -> String {
        crate::input::date(s).map_or_else(|| s.to_owned(), |d| self.date(d))
    }

    /// An RFC 3339 instant, in UTC: `Dec 4, 2026, 2:05 PM UTC` or `4 dic 2026, 14:05 UTC`.
    pub fn instant(self, s: &str) -> String {
        let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) else {
            return s.to_owned();
        };
        let t = t.to_offset(time::UtcOffset::UTC);
        let date = self.date(t.date());
        match self.0 {
            Lang::En => {
                let (h, pm) = match t.hour() {
                    0 => (12, false),
                    h @ 1..=11 => (h, false),
                    12 => (12, true),
                    h => (h - 12, true),
                };
                let ampm = if pm { "PM" } else { "AM" };
                format!("{date}, {h}:{:02} {ampm} UTC", t.minute())
            }
            Lang::Es => format!("{date}, {:02}:{:02} UTC", t.hour(), t.minute()),
        }
    }

    /// A number with thousands grouped and at most `decimals` decimals (es-MX groups with a comma
    /// and marks decimals with a point, as English does).
    pub fn number(self, v: f64, decimals: usize) -> String {
        let s = format!("{:.*}", decimals, v);
        let (sign, s) = s.strip_prefix('-').map_or(("", s.as_str()), |r| ("-", r));
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let mut grouped = String::with_capacity(int.len() + int.len() / 3);
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            format!("{sign}{grouped}")
        } else {
            format!("{sign}{grouped}.{frac}")
        }
    }

    pub fn count(self, n: u64) -> String {
        self.number(n as f64, 0)
    }

    /// A duration in seconds as hours and minutes: `2 h 05 min`.
    pub fn duration(self, seconds: i64) -> String {
        let s = seconds.unsigned_abs();
        let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
        match (d, self.0) {
            (0, _) => format!("{h} h {m:02} min"),
            (d, Lang::En) => format!("{d} d {h} h"),
            (d, Lang::Es) => format!("{d} d {h} h"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn dates_and_numbers_in_both_languages() {
        let (en, es) = (Fmt(Lang::En), Fmt(Lang::Es));
        assert_eq!(en.date(date!(2026 - 12 - 04)), "Dec 4, 2026");
        assert_eq!(es.date(date!(2026 - 12 - 04)), "4 dic 2026");
        assert_eq!(
            en.instant("2026-12-04T14:05:00Z"),
            "Dec 4, 2026, 2:05 PM UTC"
        );
        assert_eq!(es.instant("2026-12-04T14:05:00Z"), "4 dic 2026, 14:05 UTC");
        assert_eq!(es.number(1234567.5, 1), "1,234,567.5");
        assert_eq!(en.number(-93.0, 1), "-93");
        assert_eq!(en.number(999.0, 0), "999");
        assert_eq!(en.duration(7500), "2 h 05 min");
    }
}
