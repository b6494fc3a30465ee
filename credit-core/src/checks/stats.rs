//! Statistics of checks and feedback: how often measures came up, and how often departments reported
//! what they did about them ("one breach, restricted everywhere" made visible).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;

use super::{CheckError, CheckRecord, Checker, Feedback, Outcome};
use crate::engine::Engine;
use crate::store::{StoreError, from_json};
use crate::time::china_standard_time;

/// Which checks count: by check date (China Standard Time), requesting department and division.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub department: Option<String>,
    /// A GB/T 2260 code; a province or prefecture code includes everything below it.
    pub division: Option<String>,
}

/// Counts for one memorandum, measure, department, division or period. A measure hit is a measure a
/// check returned as applying (suppressed rewards not counted); feedback counts once per hit, latest
/// report deciding the outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatsGroup {
    pub key: String,
    pub measure_hits: u64,
    pub with_feedback: u64,
    pub feedback_share: f64,
    pub applied: u64,
    pub not_applied: u64,
    pub escalated: u64,
}

impl StatsGroup {
    fn add(&mut self, outcome: Option<Outcome>) {
        self.measure_hits += 1;
        let Some(outcome) = outcome else { return };
        self.with_feedback += 1;
        match outcome {
            Outcome::Applied => self.applied += 1,
            Outcome::NotApplied => self.not_applied += 1,
            Outcome::Escalated => self.escalated += 1,
        }
    }

    fn finish(&mut self) {
        self.feedback_share = share(self.with_feedback, self.measure_hits);
    }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    // Four decimals are plenty for a share and keep the JSON readable.
    ((part as f64 / whole as f64) * 10_000.0).round() / 10_000.0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CheckStats {
    pub checks: u64,
    pub verdicts: BTreeMap<String, u64>,
    #[serde(flatten)]
    pub total: StatsGroup,
    pub by_memorandum: Vec<StatsGroup>,
    pub by_measure: Vec<StatsGroup>,
    pub by_department: Vec<StatsGroup>,
    pub by_division: Vec<StatsGroup>,
    pub by_period: Vec<StatsGroup>,
}

/// `110000` → `11`, `110100` → `1101`: the prefix every code inside the division starts with.
fn division_prefix(code: &str) -> &str {
    let mut prefix = code;
    while prefix.len() > 2 && prefix.ends_with("00") {
        prefix = &prefix[..prefix.len() - 2];
    }
    prefix
}

impl<E: Engine> Checker<'_, E> {
    /// Statistics over the check log and its feedback. The whole log is read, so the work stops with
    /// [`CheckError::Cancelled`] once the checker's cancel flag is raised (its caller is gone).
    pub fn statistics(&self, filter: &StatsFilter) -> Result<CheckStats, CheckError> {
        let mut latest: HashMap<(u64, String), Outcome> = HashMap::new();
        let mut failure: Option<StoreError> = None;
        let mut cancelled = false;
        self.store.scan_feedback(&mut |_, value| {
            if self.cancel.is_cancelled() {
                cancelled = true;
                return false;
            }
            match from_json::<Feedback>(value) {
                Ok(f) => {
                    latest.insert((f.check_id, f.measure_id), f.outcome);
                }
                Err(e) => failure = Some(e),
            }
            failure.is_none()
        })?;
        if let Some(e) = failure {
            return Err(e.into());
        }
        if cancelled {
            return Err(crate::cancel::Cancelled.into());
        }

        let mut stats = CheckStats::default();
        let mut groups: [BTreeMap<String, StatsGroup>; 5] = Default::default();
        let division = filter.division.as_deref().map(division_prefix);
        self.store.scan_checks(&mut |_, value| {
            if self.cancel.is_cancelled() {
                cancelled = true;
                return false;
            }
            let check: CheckRecord = match from_json(value) {
                Ok(c) => c,
                Err(e) => {
                    failure = Some(e);
                    return false;
                }
            };
            let date = check.checked_at.with_timezone(&china_standard_time()).date_naive();
            if filter.from.is_some_and(|from| date < from)
                || filter.to.is_some_and(|to| date > to)
                || filter.department.as_ref().is_some_and(|d| check.department.as_ref() != Some(d))
                || division.is_some_and(|p| !check.division.as_deref().is_some_and(|d| d.starts_with(p)))
            {
                return true;
            }
            stats.checks += 1;
            *stats.verdicts.entry(check.verdict.as_str().to_string()).or_default() += 1;
            let department = check.department.clone().unwrap_or_else(|| "-".to_string());
            let division = check.division.clone().unwrap_or_else(|| "-".to_string());
            let period = date.format("%Y-%m").to_string();
            for measure in check.measures.iter().filter(|m| !m.suppressed) {
                let outcome = latest.get(&(check.check_id, measure.measure_id.clone())).copied();
                stats.total.add(outcome);
                let keys = [&measure.memorandum_id, &measure.measure_id, &department, &division, &period];
                for (group, key) in groups.iter_mut().zip(keys) {
                    group
                        .entry(key.clone())
                        .or_insert_with(|| StatsGroup { key: key.clone(), ..Default::default() })
                        .add(outcome);
                }
            }
            true
        })?;
        if let Some(e) = failure {
            return Err(e.into());
        }
        if cancelled {
            return Err(crate::cancel::Cancelled.into());
        }
        stats.total.key = "total".to_string();
        stats.total.finish();
        let [memoranda, measures, departments, divisions, periods] = groups;
        let finish = |group: BTreeMap<String, StatsGroup>| -> Vec<StatsGroup> {
            group
                .into_values()
                .map(|mut g| {
                    g.finish();
                    g
                })
                .collect()
        };
        stats.by_memorandum = finish(memoranda);
        stats.by_measure = finish(measures);
        stats.by_department = finish(departments);
        stats.by_division = finish(divisions);
        stats.by_period = finish(periods);
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_prefixes_cover_what_lies_below() {
        assert_eq!(division_prefix("110000"), "11");
        assert_eq!(division_prefix("110100"), "1101");
        assert_eq!(division_prefix("110105"), "110105");
    }

    #[test]
    fn shares_are_rounded_and_safe_on_zero() {
        assert_eq!(share(1, 3), 0.3333);
        assert_eq!(share(0, 0), 0.0);
    }
}
