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
use crate::store::EvaluatedThrough;

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
        let mut cells: BTreeMap<String, Columns> = BTreeMap::new();
        for cell in &cube.cells {
            let Some(key) = cell_key(request, &cell.division, &cell.industry) else { continue };
            let counts = cells.entry(key).or_default();
            *counts.entry(SUBJECTS.to_string()).or_default() += cell.subjects;
            for (column, n) in cube.columns.iter().zip(&cell.counts).filter(|(_, n)| **n > 0) {
                *counts.entry(column.clone()).or_default() += n;
            }
        }
        Ok(answer(request, kept, Some(cube.model_version.clone()), cells))
    }

    /// The cube matching the store's mark: the one in memory, or the one stored (then kept in memory).
    pub(crate) fn current_cube(&self) -> Result<Option<Arc<StatsCube>>, PlatformError> {
        let Some(mark) = self.store.evaluated_through()? else { return Ok(None) };
        self.cube_of(&mark)
    }

    /// The cube the run that left `mark` wrote with it: the one in memory, or the one stored (then kept
    /// in memory).
    pub(super) fn cube_of(&self, mark: &EvaluatedThrough) -> Result<Option<Arc<StatsCube>>, PlatformError> {
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
        let mut cells: BTreeMap<String, Columns> = BTreeMap::new();
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
            let mut count = |column: String| *cell.entry(column).or_default() += 1;
            count(SUBJECTS.to_string());
            count(format!("type:{}", subject.subject_type.as_str()));
            match self.store.evaluation(subject.id) {
                Ok(Some(e)) => {
                    count(format!("grade:{}", e.grade));
                    if let Some(class) = e.risk_class {
                        count(format!("class:{class}"));
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
                        count(format!("list:{list_type}"));
                    }
                    RecordDetails::Penalty { .. }
                        if content.decision_date.is_some_and(|d| year_before < d && d <= as_of)
                            && !crate::model::ended_by_status(content.status, content.status_since, as_of) =>
                    {
                        if let Some(tier) = self.disclosure.tier(content) {
                            count(format!("tier:{}", tier.as_str()));
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
    cells: BTreeMap<String, Columns>,
) -> CreditStatistics {
    let min = request.min_count;
    let table = crate::division::DivisionTable::builtin();
    let (keys, columns): (Vec<String>, Vec<Columns>) = cells.into_iter().unzip();
    // Cells that add up to one cell of a coarser request: the counties of a city, the cities of a
    // province, the provinces or the industries of everything asked.
    let parent = |key: &str| match request.by {
        StatsBy::Division { level } if level > 2 => key[..level - 2].to_string(),
        _ => String::new(),
    };
    let mut siblings: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, key) in keys.iter().enumerate() {
        siblings.entry(parent(key)).or_default().push(i);
    }
    let siblings: Vec<Vec<usize>> = siblings.into_values().collect();
    let withheld = withheld(&columns, &siblings, min);
    let cells = keys
        .into_iter()
        .zip(columns)
        .zip(withheld)
        .map(|((key, columns), withheld)| {
            let mut cell = StatsCell {
                name: matches!(request.by, StatsBy::Division { .. })
                    .then(|| table.get(&key).map(|d| d.name.clone()))
                    .flatten(),
                key,
                ..StatsCell::default()
            };
            for (column, n) in columns {
                let shown = (!withheld.contains(&column)).then_some(n);
                let Some((kind, name)) = column.split_once(':') else {
                    cell.subjects = shown;
                    continue;
                };
                let map = match kind {
                    "type" => &mut cell.by_type,
                    "grade" => &mut cell.grades,
                    "class" => &mut cell.risk_classes,
                    "list" => &mut cell.lists_in_force,
                    _ => &mut cell.penalties_by_tier,
                };
                map.insert(name.to_string(), shown);
            }
            cell
        })
        .collect();
    CreditStatistics { as_of, division: request.division.clone(), by: request.by, min_count: min, model_version, cells }
}

/// A cell's counts by column: `subjects`, then `type:…`, `grade:…`, `class:…`, `list:…`, `tier:…`.
type Columns = BTreeMap<String, u64>;

const SUBJECTS: &str = "subjects";

/// Counts that add up to a total someone can learn: a cell's `total` column, or (`None`) a total not
/// in this answer but known otherwise (the grades add up to the evaluated types shown; siblings add up
/// to their parent's cell in a coarser request).
struct Partition {
    total: Option<(usize, String)>,
    parts: Vec<(usize, String)>,
}

/// Which counts of each cell to withhold: every count under `min` (primary suppression), then enough
/// others that none of them can be recovered by subtraction (complementary suppression), until nothing
/// changes: where a total is known, never exactly one of its parts withheld (the smallest other part
/// goes too); where a total is withheld, never all of its parts shown.
fn withheld(cells: &[Columns], siblings: &[Vec<usize>], min: u64) -> Vec<std::collections::BTreeSet<String>> {
    let mut withheld: Vec<std::collections::BTreeSet<String>> =
        cells.iter().map(|c| c.iter().filter(|(_, n)| **n < min).map(|(k, _)| k.clone()).collect()).collect();
    let of_kind = |i: usize, kind: &str| -> Vec<(usize, String)> {
        cells[i].keys().filter(|k| k.starts_with(kind)).map(|k| (i, k.clone())).collect()
    };
    let mut partitions = Vec::new();
    for i in 0..cells.len() {
        partitions.push(Partition { total: Some((i, SUBJECTS.to_string())), parts: of_kind(i, "type:") });
        partitions.push(Partition { total: None, parts: of_kind(i, "grade:") });
        partitions.push(Partition { total: None, parts: of_kind(i, "class:") });
    }
    for group in siblings {
        let columns: std::collections::BTreeSet<&String> = group.iter().flat_map(|i| cells[*i].keys()).collect();
        for column in columns {
            let parts =
                group.iter().filter(|i| cells[**i].get(column).is_some_and(|n| *n > 0)).map(|i| (*i, column.clone()));
            partitions.push(Partition { total: None, parts: parts.collect() });
        }
    }
    loop {
        let mut changed = false;
        for partition in &partitions {
            let hidden = partition.parts.iter().filter(|(i, c)| withheld[*i].contains(c)).count();
            let total_hidden = partition.total.as_ref().is_some_and(|(i, c)| withheld[*i].contains(c));
            let needs_another = if total_hidden { hidden == 0 } else { hidden == 1 };
            if !needs_another {
                continue;
            }
            let smallest =
                partition.parts.iter().filter(|(i, c)| !withheld[*i].contains(c)).min_by_key(|(i, c)| cells[*i][c]);
            if let Some((i, c)) = smallest {
                withheld[*i].insert(c.clone());
                changed = true;
            }
        }
        if !changed {
            return withheld;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(counts: &[(&str, u64)]) -> Columns {
        counts.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    }

    fn hidden(withheld: &[std::collections::BTreeSet<String>], i: usize) -> Vec<&str> {
        withheld[i].iter().map(String::as_str).collect()
    }

    #[test]
    fn a_small_count_takes_the_smallest_other_part_of_a_known_total_with_it() {
        // 57 B and 3 D of 60 evaluated enterprises: D alone withheld would be 60 − 57.
        let cells = [cell(&[("subjects", 60), ("type:enterprise", 60), ("grade:B", 57), ("grade:D", 3)])];
        let withheld = super::withheld(&cells, &[vec![0]], 5);
        assert_eq!(hidden(&withheld, 0), vec!["grade:B", "grade:D"]);

        // 50 enterprises and 4 individual businesses of 54 subjects: the type withheld takes the other.
        let cells = [cell(&[("subjects", 54), ("type:enterprise", 50), ("type:individual_business", 4)])];
        assert_eq!(
            hidden(&super::withheld(&cells, &[vec![0]], 5), 0),
            vec!["type:enterprise", "type:individual_business"]
        );

        // Two small parts hide each other: nothing more goes.
        let cells = [cell(&[("subjects", 60), ("grade:A", 2), ("grade:B", 55), ("grade:D", 3)])];
        assert_eq!(hidden(&super::withheld(&cells, &[vec![0]], 5), 0), vec!["grade:A", "grade:D"]);
    }

    #[test]
    fn siblings_of_one_parent_never_leave_exactly_one_withheld() {
        // Three counties of one city: the city's count (a coarser request) minus two shown counties
        // would give the third. The smallest other county goes with it; the cascade reaches its types.
        let cells = [
            cell(&[("subjects", 3), ("type:enterprise", 3)]),
            cell(&[("subjects", 40), ("type:enterprise", 40)]),
            cell(&[("subjects", 9), ("type:enterprise", 9)]),
        ];
        let withheld = super::withheld(&cells, &[vec![0, 1, 2]], 5);
        assert_eq!(hidden(&withheld, 0), vec!["subjects", "type:enterprise"]);
        assert_eq!(hidden(&withheld, 2), vec!["subjects", "type:enterprise"], "the smallest other county");
        assert!(hidden(&withheld, 1).is_empty(), "two withheld hide each other: {withheld:?}");

        // Cells of different parents do not cover each other.
        let withheld = super::withheld(&cells, &[vec![0], vec![1, 2]], 5);
        assert!(hidden(&withheld, 2).is_empty() && hidden(&withheld, 1).is_empty(), "{withheld:?}");
    }

    #[test]
    fn no_withheld_count_can_be_recovered_by_subtraction() {
        // Whatever the counts, in every partition with a known total, either none or at least two
        // parts are withheld, and a withheld total has a withheld part.
        let mut state = 7u64;
        let mut next = |bound: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % bound
        };
        for _ in 0..300 {
            let cells: Vec<Columns> = (0..1 + next(5))
                .map(|_| {
                    let (e, b) = (next(30), next(8));
                    let mut c =
                        cell(&[("subjects", e + b + 1), ("type:enterprise", e), ("type:individual_business", b)]);
                    c.insert("type:farmer_cooperative".into(), 1);
                    c.retain(|_, n| *n > 0);
                    c
                })
                .collect();
            let group: Vec<usize> = (0..cells.len()).collect();
            let withheld = super::withheld(&cells, std::slice::from_ref(&group), 5);
            for (i, c) in cells.iter().enumerate() {
                let types: Vec<&String> = c.keys().filter(|k| k.starts_with("type:")).collect();
                let hidden_types = types.iter().filter(|k| withheld[i].contains(**k)).count();
                if withheld[i].contains("subjects") {
                    assert!(hidden_types >= 1, "{c:?} {:?}", withheld[i]);
                } else {
                    assert_ne!(hidden_types, 1, "{c:?} {:?}", withheld[i]);
                }
            }
            let columns: std::collections::BTreeSet<&String> = cells.iter().flat_map(|c| c.keys()).collect();
            for column in columns {
                let hidden = group.iter().filter(|i| cells[**i].contains_key(column) && withheld[**i].contains(column));
                let shown_parts = group.iter().filter(|i| cells[**i].contains_key(column)).count();
                let hidden = hidden.count();
                assert!(hidden != 1 || shown_parts == 1, "{column}: {cells:?} {withheld:?}");
            }
        }
    }
}
