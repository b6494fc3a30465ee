//! Credit statistics and the credit map (信用地图): counts of subjects, grades, risk classes, list
//! entries in force and penalties by tier, per division (at any GB/T 2260 level) or per industry, on a
//! day. Public: every count under the minimum cell size is suppressed, so no person or small firm can be
//! singled out.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Months, NaiveDate};
use serde::Serialize;

use super::{Platform, PlatformError};
use crate::actor::Actor;
use crate::engine::Engine;
use crate::evaluation::{Evaluation, StatsCube, Tally, industry_key};
use crate::model::{RecordDetails, RecordVersion, Subject};

/// The default smallest count shown; smaller ones are suppressed.
pub const DEFAULT_MIN_CELL: u64 = 5;

/// How cells are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatsBy {
    /// By division: `level` 2 (province), 4 (city) or 6 (county) digits of the code.
    Division { level: usize },
    /// By industry: the section or two-digit division of the GB/T 4754 code delivered (JJHYDM).
    Industry,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsRequest {
    /// Only subjects whose division starts with this (empty: all).
    pub division: String,
    pub by: StatsBy,
    /// The day: `None` for the day of the last evaluation run, the only one kept.
    pub as_of: Option<NaiveDate>,
    /// Cells under this are suppressed (at least 1).
    pub min_count: u64,
}

/// A count, or `None` when it was under the minimum cell size (suppressed).
pub type Count = Option<u64>;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatsCell {
    /// The division code (padded to six digits) or the industry key.
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub subjects: Count,
    pub by_type: BTreeMap<String, Count>,
    pub grades: BTreeMap<String, Count>,
    pub risk_classes: BTreeMap<String, Count>,
    pub lists_in_force: BTreeMap<String, Count>,
    /// Penalties decided in the year up to `as_of`, by tier.
    pub penalties_by_tier: BTreeMap<String, Count>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditStatistics {
    pub as_of: NaiveDate,
    pub division: String,
    pub by: StatsBy,
    pub min_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    pub cells: Vec<StatsCell>,
}

#[derive(Default)]
struct Raw {
    subjects: u64,
    by_type: BTreeMap<String, u64>,
    grades: BTreeMap<String, u64>,
    risk_classes: BTreeMap<String, u64>,
    lists: BTreeMap<String, u64>,
    penalties: BTreeMap<String, u64>,
}

fn suppress(map: BTreeMap<String, u64>, min: u64) -> BTreeMap<String, Count> {
    map.into_iter().map(|(k, n)| (k, (n >= min).then_some(n))).collect()
}

impl Raw {
    fn add_column(&mut self, column: &str, n: u64) {
        let Some((kind, name)) = column.split_once(':') else { return };
        let map = match kind {
            "type" => &mut self.by_type,
            "grade" => &mut self.grades,
            "class" => &mut self.risk_classes,
            "list" => &mut self.lists,
            "tier" => &mut self.penalties,
            _ => return,
        };
        *map.entry(name.to_string()).or_default() += n;
    }
}

/// The cell a subject of `division` and `industry` falls in, when `request` counts it.
fn cell_key(request: &StatsRequest, division: &str, industry: &str) -> Option<String> {
    if division.is_empty() || !division.starts_with(&request.division) {
        return None;
    }
    Some(match request.by {
        StatsBy::Division { level } => format!("{:0<6}", &division[..level.min(division.len())]),
        StatsBy::Industry => industry.to_string(),
    })
}

impl<E: Engine> Platform<E> {
    /// What `subject` adds to the statistics on `as_of`: its cell, type, grade and class, its list
    /// entries in force (of lists the disclosure rules know) and its penalties decided in the year
    /// before, by tier (unless repaired or revoked by then).
    pub(super) fn tally(
        &self,
        subject: &Subject,
        records: &[RecordVersion],
        evaluation: Option<&Evaluation>,
        as_of: NaiveDate,
    ) -> Tally {
        let mut columns = vec![format!("type:{}", subject.subject_type.as_str())];
        if let Some(e) = evaluation {
            columns.push(format!("grade:{}", e.grade));
            if let Some(class) = &e.risk_class {
                columns.push(format!("class:{class}"));
            }
        }
        let year_before = as_of.checked_sub_months(Months::new(12)).unwrap_or(as_of);
        for content in records.iter().map(|r| &r.content) {
            match &content.details {
                RecordDetails::ListEntry { list_type, .. }
                    if content.in_force_on(as_of) && self.disclosure.list_rule(list_type).is_some() =>
                {
                    columns.push(format!("list:{list_type}"));
                }
                RecordDetails::Penalty { .. }
                    if content.decision_date.is_some_and(|d| year_before < d && d <= as_of)
                        && !crate::model::ended_by_status(content.status, content.status_since, as_of) =>
                {
                    if let Some(tier) = self.disclosure.tier(content) {
                        columns.push(format!("tier:{}", tier.as_str()));
                    }
                }
                _ => {}
            }
        }
        Tally {
            division: subject.division.clone().unwrap_or_default(),
            industry: industry_key(subject.attributes.get("industry_code").map(String::as_str)),
            columns,
        }
    }

    /// The statistics `request` asks for (anyone: only suppressed counts leave), from the cube the
    /// last evaluation run kept: for its day only (`as_of` `None` asks for it, whatever it is).
    pub fn credit_statistics(&self, _actor: &Actor, request: &StatsRequest) -> Result<CreditStatistics, PlatformError> {
        validate(request)?;
        let cube = self.current_cube()?.ok_or_else(|| {
            PlatformError::invalid(
                "as_of",
                "no statistics yet: an evaluation run keeps them (credit-server evaluate run)",
            )
        })?;
        let kept = cube.as_of.ok_or_else(|| PlatformError::invalid("as_of", "the statistics kept have no day"))?;
        if request.as_of.is_some_and(|d| d != kept) {
            return Err(PlatformError::invalid(
                "as_of",
                format!("statistics are kept for {kept}, the day of the last evaluation run"),
            ));
        }
        let mut cells: BTreeMap<String, Raw> = BTreeMap::new();
        for cell in &cube.cells {
            let Some(key) = cell_key(request, &cell.division, &cell.industry) else { continue };
            let raw = cells.entry(key).or_default();
            raw.subjects += cell.subjects;
            for (column, n) in cube.columns.iter().zip(&cell.counts) {
                if *n > 0 {
                    raw.add_column(column, *n);
                }
            }
        }
        Ok(answer(request, kept, Some(cube.model_version.clone()), cells))
    }

    /// The cube matching the store's mark: the one in memory, or the one stored (then kept in memory).
    fn current_cube(&self) -> Result<Option<Arc<StatsCube>>, PlatformError> {
        let Some(mark) = self.store.evaluated_through()? else { return Ok(None) };
        let matches = |cube: &StatsCube| {
            cube.as_of == Some(mark.as_of)
                && cube.model_version == mark.model_version
                && cube.batch == mark.batch.map(|b| b.0)
        };
        let mut cached = self.cube.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cube) = cached.as_ref().filter(|c| matches(c)) {
            return Ok(Some(Arc::clone(cube)));
        }
        let stored = self.store.stats_cube()?.filter(matches).map(Arc::new);
        cached.clone_from(&stored);
        Ok(stored)
    }

    /// The same statistics computed by reading every subject, the stored evaluations and the records:
    /// the reference the cube is tested against.
    #[cfg(test)]
    pub(crate) fn credit_statistics_scanned(&self, request: &StatsRequest) -> Result<CreditStatistics, PlatformError> {
        validate(request)?;
        let as_of = request.as_of.expect("the scan is asked for a day");
        let year_before = as_of.checked_sub_months(Months::new(12)).unwrap_or(as_of);
        let mut cells: BTreeMap<String, Raw> = BTreeMap::new();
        let mut failed = None;
        self.store.scan_current_pages(&mut |subject, records| {
            let Some(division) = subject.division.as_deref().filter(|d| d.starts_with(&request.division)) else {
                return true;
            };
            let key = match request.by {
                StatsBy::Division { level } => format!("{:0<6}", &division[..level.min(division.len())]),
                StatsBy::Industry => match subject.attributes.get("industry_code").map(|c| c.trim()) {
                    Some(code) if code.starts_with(|c: char| c.is_ascii_alphabetic()) => code[..1].to_uppercase(),
                    Some(code) if code.len() >= 2 && code.is_char_boundary(2) => code[..2].to_string(),
                    _ => "unknown".to_string(),
                },
            };
            let cell = cells.entry(key).or_default();
            cell.subjects += 1;
            *cell.by_type.entry(subject.subject_type.as_str().to_string()).or_default() += 1;
            match self.store.evaluation(subject.id) {
                Ok(Some(e)) => {
                    *cell.grades.entry(e.grade).or_default() += 1;
                    if let Some(class) = e.risk_class {
                        *cell.risk_classes.entry(class).or_default() += 1;
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    failed = Some(error);
                    return false;
                }
            }
            for r in &records {
                let content = &r.content;
                match &content.details {
                    RecordDetails::ListEntry { list_type, .. }
                        if content.in_force_on(as_of) && self.disclosure.list_rule(list_type).is_some() =>
                    {
                        *cell.lists.entry(list_type.clone()).or_default() += 1;
                    }
                    RecordDetails::Penalty { .. }
                        if content.decision_date.is_some_and(|d| year_before < d && d <= as_of)
                            && !crate::model::ended_by_status(content.status, content.status_since, as_of) =>
                    {
                        if let Some(tier) = self.disclosure.tier(content) {
                            *cell.penalties.entry(tier.as_str().to_string()).or_default() += 1;
                        }
                    }
                    _ => {}
                }
            }
            true
        })?;
        if let Some(error) = failed {
            return Err(error.into());
        }
        Ok(answer(request, as_of, self.store.evaluated_through()?.map(|m| m.model_version), cells))
    }
}

fn validate(request: &StatsRequest) -> Result<(), PlatformError> {
    if !request.division.bytes().all(|b| b.is_ascii_digit()) || request.division.len() > 6 {
        return Err(PlatformError::invalid("division", "a GB/T 2260 code or prefix: up to six digits"));
    }
    if let StatsBy::Division { level } = request.by
        && !matches!(level, 2 | 4 | 6)
    {
        return Err(PlatformError::invalid("level", "2 (province), 4 (city) or 6 (county)"));
    }
    if request.min_count == 0 || request.min_count > 1_000_000 {
        return Err(PlatformError::invalid("min_count", "from 1 to 1,000,000"));
    }
    Ok(())
}

/// The answer: each cell's counts, those under the minimum suppressed.
fn answer(
    request: &StatsRequest,
    as_of: NaiveDate,
    model_version: Option<String>,
    cells: BTreeMap<String, Raw>,
) -> CreditStatistics {
    let min = request.min_count;
    let table = crate::division::DivisionTable::builtin();
    let cells = cells
        .into_iter()
        .map(|(key, raw)| StatsCell {
            name: matches!(request.by, StatsBy::Division { .. })
                .then(|| table.get(&key).map(|d| d.name.clone()))
                .flatten(),
            key,
            subjects: (raw.subjects >= min).then_some(raw.subjects),
            by_type: suppress(raw.by_type, min),
            grades: suppress(raw.grades, min),
            risk_classes: suppress(raw.risk_classes, min),
            lists_in_force: suppress(raw.lists, min),
            penalties_by_tier: suppress(raw.penalties, min),
        })
        .collect();
    CreditStatistics { as_of, division: request.division.clone(), by: request.by, min_count: min, model_version, cells }
}
