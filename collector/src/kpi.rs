//! The seed KPIs, kept as counters per org unit over its whole subtree.
//!
//! A KPI for the root of a national tree must answer in milliseconds, so it
//! cannot count endpoints when asked. Each endpoint instead contributes to a
//! few named counters of its unit and of every ancestor; when a report
//! changes what it contributes, the difference is applied to those counters
//! in the transaction that stores the report. The answer is then a handful of
//! rows per unit, whatever the number of endpoints.
//!
//! Time-dependent KPIs ("reported in the last 24 h", "signatures at most N
//! days old") cannot be kept by events alone, because an endpoint leaves the
//! window without reporting anything. They are counted in time buckets
//! instead (the hour of the last report, the day of the signatures): the KPI
//! sums the buckets inside the window, so it stays exact to the bucket's
//! width without any periodic job.

use std::collections::BTreeMap;

/// What one endpoint contributes, derived from its latest report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contribution {
    /// Unix hour of the last report (`last_seen / 3 600 000`).
    pub seen_hour: Option<i64>,
    pub av_installed: bool,
    pub av_running: bool,
    pub av_realtime: bool,
    /// Unix day of the newest signatures of a running product.
    pub signature_day: Option<i64>,
    pub fw_default_deny: bool,
    /// Unix day of the last completed malware scan.
    pub sweep_day: Option<i64>,
    /// A backup agent is expected here (servers).
    pub backup_expected: bool,
    /// Unix day of the backup agent's last successful contact.
    pub backup_day: Option<i64>,
}

/// One counter of a unit: how many endpoints of its subtree have the property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Counter {
    Endpoints,
    SeenHour(i64),
    AvInstalled,
    AvRunning,
    AvRealtime,
    SignatureDay(i64),
    FwDefaultDeny,
    SweepDay(i64),
    BackupExpected,
    BackupDay(i64),
}

impl Counter {
    /// `(name, bucket)` as stored: bucket 0 for counters without one.
    pub fn key(self) -> (&'static str, i64) {
        match self {
            Counter::Endpoints => ("endpoints", 0),
            Counter::SeenHour(h) => ("seen_hour", h),
            Counter::AvInstalled => ("av_installed", 0),
            Counter::AvRunning => ("av_running", 0),
            Counter::AvRealtime => ("av_realtime", 0),
            Counter::SignatureDay(d) => ("signature_day", d),
            Counter::FwDefaultDeny => ("fw_default_deny", 0),
            Counter::SweepDay(d) => ("sweep_day", d),
            Counter::BackupExpected => ("backup_expected", 0),
            Counter::BackupDay(d) => ("backup_day", d),
        }
    }

    pub fn from_key(name: &str, bucket: i64) -> Option<Counter> {
        Some(match name {
            "endpoints" => Counter::Endpoints,
            "seen_hour" => Counter::SeenHour(bucket),
            "av_installed" => Counter::AvInstalled,
            "av_running" => Counter::AvRunning,
            "av_realtime" => Counter::AvRealtime,
            "signature_day" => Counter::SignatureDay(bucket),
            "fw_default_deny" => Counter::FwDefaultDeny,
            "sweep_day" => Counter::SweepDay(bucket),
            "backup_expected" => Counter::BackupExpected,
            "backup_day" => Counter::BackupDay(bucket),
            _ => return None,
        })
    }
}

impl Contribution {
    /// The counters this endpoint adds one to.
    pub fn counters(&self) -> Vec<Counter> {
        let mut out = vec![Counter::Endpoints];
        out.extend(self.seen_hour.map(Counter::SeenHour));
        for (on, c) in [
            (self.av_installed, Counter::AvInstalled),
            (self.av_running, Counter::AvRunning),
            (self.av_realtime, Counter::AvRealtime),
            (self.fw_default_deny, Counter::FwDefaultDeny),
            (self.backup_expected, Counter::BackupExpected),
        ] {
            if on {
                out.push(c);
            }
        }
        out.extend(self.signature_day.map(Counter::SignatureDay));
        out.extend(self.sweep_day.map(Counter::SweepDay));
        if self.backup_expected {
            out.extend(self.backup_day.map(Counter::BackupDay));
        }
        out
    }
}

/// What to add to each counter when an endpoint's contribution goes from
/// `old` to `new` (`None`: the endpoint did not count, or no longer does).
/// Counters that do not change are left out, so a heartbeat within the same
/// hour writes nothing.
pub fn delta(old: Option<&Contribution>, new: Option<&Contribution>) -> Vec<(Counter, i64)> {
    let mut d: BTreeMap<Counter, i64> = BTreeMap::new();
    for c in old.map(Contribution::counters).unwrap_or_default() {
        *d.entry(c).or_default() -= 1;
    }
    for c in new.map(Contribution::counters).unwrap_or_default() {
        *d.entry(c).or_default() += 1;
    }
    d.into_iter().filter(|(_, n)| *n != 0).collect()
}

/// One KPI: how many of how many, and the share.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Ratio {
    pub count: i64,
    pub of: i64,
    /// Percent with one decimal; `None` when there is nothing to count.
    pub percent: Option<f64>,
}

impl Default for Ratio {
    fn default() -> Self {
        Ratio::new(0, 0)
    }
}

impl Ratio {
    pub fn new(count: i64, of: i64) -> Ratio {
        let percent = (of > 0).then(|| (count as f64 * 1000.0 / of as f64).round() / 10.0);
        Ratio { count, of, percent }
    }
}

/// The endpoint KPIs of one unit's subtree, read from its counters at `now_ms`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EndpointKpis {
    pub endpoints: i64,
    pub reporting_24h: Ratio,
    pub av_installed: Ratio,
    pub av_running: Ratio,
    pub av_realtime: Ratio,
    pub signatures_fresh: Ratio,
    pub firewall_default_deny: Ratio,
    pub backup_recent: Ratio,
    /// Unix day of the newest malware sweep in the subtree.
    pub last_sweep_day: Option<i64>,
}

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

/// Reads the KPIs from a unit's counters. `fresh_days`: how old signatures may
/// be and still count as fresh; `backup_days`: the same for the last backup.
pub fn endpoint_kpis(counters: &BTreeMap<Counter, i64>, now_ms: i64, fresh_days: i64, backup_days: i64) -> EndpointKpis {
    let get = |c: Counter| counters.get(&c).copied().unwrap_or(0);
    let now_hour = now_ms.div_euclid(HOUR_MS);
    let today = now_ms.div_euclid(DAY_MS);
    let mut reporting = 0;
    let mut fresh = 0;
    let mut backup = 0;
    let mut last_sweep = None;
    for (c, n) in counters {
        match *c {
            // The current hour and the 23 before it.
            Counter::SeenHour(h) if h > now_hour - 24 => reporting += n,
            Counter::SignatureDay(d) if d >= today - fresh_days => fresh += n,
            Counter::BackupDay(d) if d >= today - backup_days => backup += n,
            Counter::SweepDay(d) if *n > 0 => last_sweep = last_sweep.max(Some(d)),
            _ => {}
        }
    }
    let endpoints = get(Counter::Endpoints);
    EndpointKpis {
        endpoints,
        reporting_24h: Ratio::new(reporting, endpoints),
        av_installed: Ratio::new(get(Counter::AvInstalled), endpoints),
        av_running: Ratio::new(get(Counter::AvRunning), endpoints),
        av_realtime: Ratio::new(get(Counter::AvRealtime), endpoints),
        signatures_fresh: Ratio::new(fresh, endpoints),
        firewall_default_deny: Ratio::new(get(Counter::FwDefaultDeny), endpoints),
        backup_recent: Ratio::new(backup, get(Counter::BackupExpected)),
        last_sweep_day: last_sweep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_contribution() -> impl Strategy<Value = Contribution> {
        (
            proptest::option::of(0i64..48),
            any::<[bool; 5]>(),
            proptest::option::of(0i64..20),
            proptest::option::of(0i64..20),
            proptest::option::of(0i64..20),
        )
            .prop_map(|(seen, f, sig, sweep, backup)| Contribution {
                seen_hour: seen,
                av_installed: f[0],
                av_running: f[1],
                av_realtime: f[2],
                signature_day: sig,
                fw_default_deny: f[3],
                sweep_day: sweep,
                backup_expected: f[4],
                backup_day: backup,
            })
    }

    fn count(all: &[Contribution]) -> BTreeMap<Counter, i64> {
        let mut m = BTreeMap::new();
        for c in all {
            for k in c.counters() {
                *m.entry(k).or_insert(0) += 1;
            }
        }
        m
    }

    proptest! {
        /// Applying the deltas of any sequence of updates gives the counters a
        /// recount of the final state gives, and the KPIs read from them are
        /// those computed endpoint by endpoint.
        #[test]
        fn deltas_keep_counters_equal_to_a_recount(
            updates in proptest::collection::vec((0usize..8, proptest::option::of(arb_contribution())), 0..60),
            now_hour in 24i64..48,
        ) {
            let mut state: Vec<Option<Contribution>> = vec![None; 8];
            let mut counters: BTreeMap<Counter, i64> = BTreeMap::new();
            for (i, new) in updates {
                for (c, n) in delta(state[i].as_ref(), new.as_ref()) {
                    *counters.entry(c).or_insert(0) += n;
                }
                state[i] = new;
            }
            counters.retain(|_, n| *n != 0);
            let live: Vec<Contribution> = state.into_iter().flatten().collect();
            prop_assert_eq!(&counters, &count(&live));

            let now_ms = now_hour * HOUR_MS;
            let k = endpoint_kpis(&counters, now_ms, 7, 2);
            let today = now_ms / DAY_MS;
            prop_assert_eq!(k.endpoints, live.len() as i64);
            prop_assert_eq!(k.reporting_24h.count, live.iter().filter(|c| c.seen_hour.is_some_and(|h| h > now_hour - 24)).count() as i64);
            prop_assert_eq!(k.signatures_fresh.count, live.iter().filter(|c| c.signature_day.is_some_and(|d| d >= today - 7)).count() as i64);
            prop_assert_eq!(k.backup_recent.count, live.iter().filter(|c| c.backup_expected && c.backup_day.is_some_and(|d| d >= today - 2)).count() as i64);
            prop_assert_eq!(k.backup_recent.of, live.iter().filter(|c| c.backup_expected).count() as i64);
            prop_assert_eq!(k.av_realtime.count, live.iter().filter(|c| c.av_realtime).count() as i64);
            prop_assert_eq!(k.last_sweep_day, live.iter().filter_map(|c| c.sweep_day).max());
        }
    }

    #[test]
    fn a_heartbeat_in_the_same_hour_changes_nothing() {
        let c = Contribution {
            seen_hour: Some(10),
            av_running: true,
            ..Default::default()
        };
        assert!(delta(Some(&c), Some(&c)).is_empty());
        let later = Contribution {
            seen_hour: Some(11),
            ..c.clone()
        };
        assert_eq!(
            delta(Some(&c), Some(&later)),
            vec![(Counter::SeenHour(10), -1), (Counter::SeenHour(11), 1)]
        );
    }

    #[test]
    fn counter_keys_round_trip_and_percentages_round() {
        for c in [
            Counter::Endpoints,
            Counter::SeenHour(5),
            Counter::SignatureDay(3),
            Counter::BackupDay(9),
            Counter::FwDefaultDeny,
        ] {
            let (name, bucket) = c.key();
            assert_eq!(Counter::from_key(name, bucket), Some(c));
        }
        assert_eq!(Counter::from_key("nope", 0), None);
        assert_eq!(Ratio::new(1, 3).percent, Some(33.3));
        assert_eq!(Ratio::new(0, 0).percent, None);
    }
}
