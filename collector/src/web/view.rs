//! How figures look on a page: numbers and dates the Vietnamese way (and the
//! English way under `?lang=en`), and the geometry of the inline SVG charts.
//! Charts are drawn by the templates from these numbers, so that every text
//! in them goes through askama's escaping; there is no script to draw them.

use super::i18n::Lang;
use khien_proto::{Status, Timestamp};
use time::UtcOffset;

/// `1.234.567` (Vietnamese) or `1,234,567` (English).
pub fn int(lang: Lang, n: i64) -> String {
    let sep = if lang.english() { ',' } else { '.' };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// `93,5 %` (Vietnamese typography puts a space before the sign) or `93.5%`;
/// a dash when there is nothing to count.
pub fn percent(lang: Lang, p: Option<f64>) -> String {
    match p {
        None => "—".to_string(),
        Some(p) if lang.english() => format!("{p:.1}%"),
        Some(p) => format!("{p:.1} %").replace('.', ","),
    }
}

/// `YYYY-MM-DD` as `dd/mm/yyyy`; other text unchanged.
pub fn date(day: &str) -> String {
    match day.split('-').collect::<Vec<_>>()[..] {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => format!("{d}/{m}/{y}"),
        _ => day.to_string(),
    }
}

/// An instant as `dd/mm/yyyy HH:MM`, in Vietnam's time (UTC+7, no daylight saving).
pub fn datetime(t: Timestamp) -> String {
    let offset = UtcOffset::from_hms(7, 0, 0).expect("a valid offset");
    let t = t.inner().to_offset(offset);
    format!(
        "{:02}/{:02}/{:04} {:02}:{:02}",
        t.day(),
        u8::from(t.month()),
        t.year(),
        t.hour(),
        t.minute()
    )
}

/// Unix milliseconds as `dd/mm/yyyy HH:MM` in Vietnam's time; empty if out of range.
pub fn datetime_ms(ms: i64) -> String {
    Timestamp::from_unix_millis(ms).map(datetime).unwrap_or_default()
}

/// RFC 3339 text (as the scorecard gives it) as `dd/mm/yyyy HH:MM`.
pub fn datetime_text(rfc3339: &str) -> String {
    Timestamp::parse(rfc3339).map(datetime).unwrap_or_else(|_| rfc3339.to_string())
}

/// A paged list's link: `base?state=S`, then the text filter and the page when there are any.
pub fn list_link(base: &str, state: &str, q: &str, page: usize) -> String {
    let mut href = format!("{base}?state={state}");
    if !q.is_empty() {
        href.push_str(&format!("&q={}", query_value(q)));
    }
    if page > 1 {
        href.push_str(&format!("&page={page}"));
    }
    href
}

/// Where a verdict sorts on a page: failures first, then what could not be
/// decided, what waits for a person, what a waiver covers, passes, and what
/// does not apply.
pub fn status_rank(status: Option<Status>) -> u8 {
    match status {
        Some(Status::Fail) => 0,
        Some(Status::Error) => 1,
        Some(Status::Manual) => 2,
        Some(Status::Waived) => 3,
        Some(Status::Pass) => 4,
        Some(Status::NotApplicable) => 5,
        None => 6,
    }
}

/// A verdict's colour class; its tag always carries the word too (colour is never alone).
pub fn status_tone(status: Option<Status>) -> &'static str {
    match status {
        Some(Status::Pass | Status::Waived) => "good",
        Some(Status::Fail) => "poor",
        Some(Status::Error) => "warn",
        Some(Status::Manual) => "info",
        Some(Status::NotApplicable) | None => "none",
    }
}

/// A status from its wire name (`not_applicable`).
pub fn parse_status(s: &str) -> Option<Status> {
    Status::ALL.into_iter().find(|st| st.as_str() == s)
}

/// How a figure reads: the colour class of its bar. Thresholds are the
/// dashboard's, not a norm: they only draw the eye to what is low.
pub fn tone(percent: Option<f64>, lower_is_better: bool) -> &'static str {
    let Some(p) = percent else { return "none" };
    let p = if lower_is_better { 100.0 - p } else { p };
    if p >= 90.0 {
        "good"
    } else if p >= 70.0 {
        "fair"
    } else {
        "poor"
    }
}

/// A horizontal bar of a percentage, in a 100-unit-wide view box.
pub struct Bar {
    pub width: String,
    pub tone: &'static str,
}

impl Bar {
    pub fn new(percent: Option<f64>, lower_is_better: bool) -> Option<Bar> {
        let p = percent?;
        Some(Bar {
            width: format!("{:.1}", p.clamp(0.0, 100.0)),
            tone: tone(percent, lower_is_better),
        })
    }
}

pub const TREND_W: f64 = 120.0;
pub const TREND_H: f64 = 32.0;
const TREND_PAD: f64 = 3.0;

/// A sparkline of daily values, in a `TREND_W`×`TREND_H` view box.
pub struct Trend {
    /// The `points` of a `<polyline>`.
    pub points: String,
    /// The last point, marked with a dot.
    pub last_x: String,
    pub last_y: String,
    pub label: String,
}

impl Trend {
    /// `values` are oldest first, one per day of `days` (missing days are
    /// skipped: the line joins the days that have a value). Percentages are
    /// drawn on 0–100; counts (`max` = `None`) on 0 to their maximum.
    pub fn new(values: &[Option<f64>], max: Option<f64>, label: String) -> Option<Trend> {
        let known: Vec<(usize, f64)> = values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).collect();
        if known.is_empty() {
            return None;
        }
        let top = max.unwrap_or_else(|| known.iter().map(|(_, v)| *v).fold(0.0, f64::max)).max(1.0);
        let span = (values.len().max(2) - 1) as f64;
        let xy = |(i, v): (usize, f64)| {
            let x = TREND_PAD + (TREND_W - 2.0 * TREND_PAD) * i as f64 / span;
            let y = TREND_H - TREND_PAD - (TREND_H - 2.0 * TREND_PAD) * (v / top).clamp(0.0, 1.0);
            (x, y)
        };
        let points = known
            .iter()
            .map(|&p| {
                let (x, y) = xy(p);
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ");
        let (x, y) = xy(*known.last().expect("not empty"));
        Some(Trend {
            points,
            last_x: format!("{x:.1}"),
            last_y: format!("{y:.1}"),
            label,
        })
    }
}

/// Percent-encodes a query value (everything but the unreserved characters).
pub fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_numbers_and_dates() {
        assert_eq!(int(Lang::Vi, 1_000_000), "1.000.000");
        assert_eq!(int(Lang::En, 1_000_000), "1,000,000");
        assert_eq!(int(Lang::Vi, 999), "999");
        assert_eq!(int(Lang::Vi, 1000), "1.000");
        assert_eq!(int(Lang::Vi, -12345), "-12.345");
        assert_eq!(percent(Lang::Vi, Some(93.5)), "93,5 %");
        assert_eq!(percent(Lang::En, Some(93.5)), "93.5%");
        assert_eq!(percent(Lang::Vi, Some(100.0)), "100,0 %");
        assert_eq!(percent(Lang::Vi, None), "—");
        assert_eq!(date("2026-03-16"), "16/03/2026");
        assert_eq!(date("soon"), "soon");
        // 17:30 UTC is half past midnight the next day in Hà Nội.
        assert_eq!(datetime_text("2026-11-22T17:30:00Z"), "23/11/2026 00:30");
        assert_eq!(query_value("Hòa Phú&x"), "H%C3%B2a%20Ph%C3%BA%26x");
    }

    #[test]
    fn web_charts() {
        assert_eq!(tone(Some(95.0), false), "good");
        assert_eq!(tone(Some(75.0), false), "fair");
        assert_eq!(tone(Some(5.0), true), "good");
        assert_eq!(tone(None, false), "none");
        assert_eq!(Bar::new(Some(120.0), false).unwrap().width, "100.0");
        assert!(Bar::new(None, false).is_none());
        assert!(Trend::new(&[None, None], Some(100.0), String::new()).is_none());
        let t = Trend::new(&[Some(0.0), None, Some(100.0)], Some(100.0), String::new()).unwrap();
        assert_eq!(t.points, "3.0,29.0 117.0,3.0");
        assert_eq!((t.last_x.as_str(), t.last_y.as_str()), ("117.0", "3.0"));
        let one = Trend::new(&[Some(4.0)], None, String::new()).unwrap();
        assert_eq!(one.points, "3.0,3.0");
    }
}
