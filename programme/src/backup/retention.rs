//! Which backups to keep: the newest of each of the last 7 days, 4 ISO weeks and 12 months that
//! have a backup (days, weeks and months in UTC, as the file names are). Anything else goes.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Utc};

/// How many days, weeks and months keep their newest backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub daily: usize,
    pub weekly: usize,
    pub monthly: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            daily: 7,
            weekly: 4,
            monthly: 12,
        }
    }
}

impl Retention {
    /// The times (of `times`) to keep: for each period kind, the newest time of each of the
    /// `n` most recent periods that have one.
    pub fn keep(&self, times: &[DateTime<Utc>]) -> BTreeSet<DateTime<Utc>> {
        let mut newest_first: Vec<DateTime<Utc>> = times.to_vec();
        newest_first.sort_by(|a, b| b.cmp(a));
        newest_first.dedup();
        let mut keep = BTreeSet::new();
        let day = |t: &DateTime<Utc>| (t.year(), t.ordinal());
        let week = |t: &DateTime<Utc>| {
            let w = t.iso_week();
            (w.year(), w.week())
        };
        let month = |t: &DateTime<Utc>| (t.year(), t.month());
        for (n, period) in [
            (self.daily, &day as &dyn Fn(&DateTime<Utc>) -> (i32, u32)),
            (self.weekly, &week),
            (self.monthly, &month),
        ] {
            let mut seen = Vec::new();
            for t in &newest_first {
                if seen.len() == n {
                    break;
                }
                let p = period(t);
                if !seen.contains(&p) {
                    // Newest first: the first time of a period is its newest.
                    seen.push(p);
                    keep.insert(*t);
                }
            }
        }
        keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 30, 0)
            .single()
            .expect("a valid time")
    }

    #[test]
    fn daily_backups_over_two_years_keep_7_days_4_weeks_12_months() {
        let last = at(2026, 12, 7, 2);
        let times: Vec<_> = (0..730).map(|i| last - Duration::days(i)).collect();
        let kept = Retention::default().keep(&times);
        // 7 days (Dec 1–7), the 4 weeks' newest (Monday Dec 7, Sundays Dec 6, Nov 29, Nov 22),
        // the 12 months' newest (Dec 7, Nov 30, Oct 31 … Jan 31).
        let mut want: BTreeSet<_> = (0..7).map(|i| last - Duration::days(i)).collect();
        want.extend([at(2026, 11, 29, 2), at(2026, 11, 22, 2)]);
        want.extend([
            at(2026, 11, 30, 2),
            at(2026, 10, 31, 2),
            at(2026, 9, 30, 2),
            at(2026, 8, 31, 2),
            at(2026, 7, 31, 2),
            at(2026, 6, 30, 2),
            at(2026, 5, 31, 2),
            at(2026, 4, 30, 2),
            at(2026, 3, 31, 2),
            at(2026, 2, 28, 2),
            at(2026, 1, 31, 2),
        ]);
        assert_eq!(kept, want);
        assert_eq!(kept.len(), 7 + 2 + 11);
    }

    #[test]
    fn several_backups_a_day_keep_the_newest_of_the_day() {
        let times = [at(2026, 12, 7, 1), at(2026, 12, 7, 13), at(2026, 12, 7, 9)];
        assert_eq!(
            Retention::default().keep(&times),
            BTreeSet::from([at(2026, 12, 7, 13)])
        );
    }

    #[test]
    fn gaps_do_not_cost_backups_days_without_one_are_not_counted() {
        // Ten backups, one every ten days: the last 7 days that have one are all kept.
        let last = at(2026, 12, 7, 2);
        let times: Vec<_> = (0..10).map(|i| last - Duration::days(10 * i)).collect();
        let kept = Retention::default().keep(&times);
        for t in &times[..7] {
            assert!(kept.contains(t), "{t} kept");
        }
        // The three oldest are kept as their month's newest only if they are: Sep 8 is the
        // newest of September (Sep 28 exists: no), so it goes.
        assert!(!kept.contains(&(last - Duration::days(90))));
    }

    #[test]
    fn nothing_to_keep_from_nothing() {
        assert!(Retention::default().keep(&[]).is_empty());
    }
}
