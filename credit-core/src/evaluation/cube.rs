//! The statistics cube an evaluation run keeps (issue 26, the credit map): every subject's counts
//! summed per finest cell (its six-digit division and its industry), so statistics for any division
//! prefix, level or industry add up a few thousand cells instead of reading every subject.
//!
//! Each subject's own contribution, its [`Tally`], is stored beside its evaluation: an incremental run
//! takes a changed subject's old tally away and adds its new one, so the cube it leaves equals the one
//! a full run would build.

// Millions of lookups a run: a fast, seeded hash.
use foldhash::{HashMap, HashMapExt};
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Evaluation;

/// What one subject adds to the statistics on the run's day: its cell, and a name for each count it
/// adds one to (`type:enterprise`, `grade:B`, `class:B`, `list:ABNORMAL_OPERATION` once per entry in
/// force, `tier:general` once per penalty decided in the year).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// The subject's GB/T 2260 division as stored; empty when it has none (then it is in no cell).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub division: String,
    /// The industry key ([`industry_key`]).
    pub industry: String,
    pub columns: Vec<String>,
}

/// The key of `industry_code` (the GB/T 4754 code delivered): its section letter, or its two-digit
/// division, or `unknown`.
pub fn industry_key(industry_code: Option<&str>) -> String {
    match industry_code.map(str::trim) {
        Some(code) if code.starts_with(|c: char| c.is_ascii_alphabetic()) => code[..1].to_uppercase(),
        Some(code) if code.len() >= 2 && code.is_char_boundary(2) => code[..2].to_string(),
        _ => "unknown".to_string(),
    }
}

/// A subject's stored evaluation: its tally always, its evaluation when the model covers its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvaluation {
    pub subject: crate::model::SubjectId,
    pub tally: Tally,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
}

/// One finest cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CubeCell {
    pub division: String,
    pub industry: String,
    pub subjects: u64,
    /// Per column of the cube, trailing zeros left out.
    pub counts: Vec<u64>,
}

/// The statistics of every subject on a day, per finest cell, as the run that made them left them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsCube {
    pub as_of: Option<NaiveDate>,
    pub model_version: String,
    /// The last store batch the cube reflects, as the run's mark says.
    pub batch: Option<u64>,
    pub columns: Vec<String>,
    /// In (division, industry) order.
    pub cells: Vec<CubeCell>,
    /// The counts of the subjects with no division, which are in no cell (division and industry empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unplaced: Option<CubeCell>,
    /// Whether the cube counts every subject: cells and `unplaced`. Cubes stored before `unplaced` was
    /// kept left those subjects out, and read as `false`.
    #[serde(default)]
    pub complete: bool,
}

impl StatsCube {
    /// Each column's total over every subject, or `None` for a cube that does not count them all.
    pub fn totals(&self) -> Option<BTreeMap<&str, u64>> {
        if !self.complete {
            return None;
        }
        let mut totals = BTreeMap::new();
        for cell in self.cells.iter().chain(&self.unplaced) {
            for (column, count) in self.columns.iter().zip(&cell.counts) {
                *totals.entry(column.as_str()).or_insert(0u64) += count;
            }
        }
        Some(totals)
    }
}

/// A cube being built or updated.
#[derive(Debug, Default)]
pub struct CubeBuilder {
    columns: Vec<String>,
    column_index: HashMap<String, usize>,
    /// Division → industry → (subjects, counts per column).
    cells: HashMap<String, HashMap<String, (i64, Vec<i64>)>>,
    /// The same for the subjects with no division.
    unplaced: (i64, Vec<i64>),
}

/// Adds `sign` to a cell's subjects and to each of its counts at `indexes`.
fn bump(cell: &mut (i64, Vec<i64>), indexes: &[usize], sign: i64) {
    cell.0 += sign;
    for &i in indexes {
        if cell.1.len() <= i {
            cell.1.resize(i + 1, 0);
        }
        cell.1[i] += sign;
    }
}

impl CubeBuilder {
    /// Starts from a stored cube (an incremental run).
    pub fn from_cube(cube: &StatsCube) -> CubeBuilder {
        let mut builder = CubeBuilder {
            columns: cube.columns.clone(),
            column_index: cube.columns.iter().enumerate().map(|(i, c)| (c.clone(), i)).collect(),
            cells: HashMap::new(),
            unplaced: (0, Vec::new()),
        };
        let signed = |cell: &CubeCell| {
            let counts = cell.counts.iter().map(|&n| i64::try_from(n).unwrap_or(i64::MAX)).collect();
            (i64::try_from(cell.subjects).unwrap_or(i64::MAX), counts)
        };
        if let Some(unplaced) = &cube.unplaced {
            builder.unplaced = signed(unplaced);
        }
        for cell in &cube.cells {
            builder.cells.entry(cell.division.clone()).or_default().insert(cell.industry.clone(), signed(cell));
        }
        builder
    }

    /// Adds (`sign` 1) or takes away (`sign` -1) one subject's tally.
    pub fn add(&mut self, tally: &Tally, sign: i64) {
        let indexes: Vec<usize> = tally.columns.iter().map(|c| self.column(c)).collect();
        if tally.division.is_empty() {
            bump(&mut self.unplaced, &indexes, sign);
            return;
        }
        // Looked up by reference: a subject's cell mostly exists already.
        if !self.cells.contains_key(&tally.division) {
            self.cells.insert(tally.division.clone(), HashMap::new());
        }
        let industries = self.cells.get_mut(&tally.division).expect("inserted above");
        if !industries.contains_key(&tally.industry) {
            industries.insert(tally.industry.clone(), (0, Vec::new()));
        }
        bump(industries.get_mut(&tally.industry).expect("inserted above"), &indexes, sign);
    }

    fn column(&mut self, name: &str) -> usize {
        if let Some(&i) = self.column_index.get(name) {
            return i;
        }
        self.columns.push(name.to_string());
        self.column_index.insert(name.to_string(), self.columns.len() - 1);
        self.columns.len() - 1
    }

    /// The cube, stamped with the run's mark; empty cells left out. A negative count (a tally taken
    /// away twice) would be a fault of the run: it shows as 0 rather than wrapping.
    pub fn finish(self, as_of: NaiveDate, model_version: &str, batch: Option<u64>) -> StatsCube {
        let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
        let cell = |division: String, industry: String, (subjects, counts): (i64, Vec<i64>)| {
            let mut counts: Vec<u64> = counts.into_iter().map(unsigned).collect();
            while counts.last() == Some(&0) {
                counts.pop();
            }
            CubeCell { division, industry, subjects: unsigned(subjects), counts }
        };
        let mut cells: Vec<CubeCell> = self
            .cells
            .into_iter()
            .flat_map(|(division, industries)| {
                industries.into_iter().map(move |(i, cell)| ((division.clone(), i), cell))
            })
            .filter(|(_, (subjects, _))| *subjects > 0)
            .map(|((division, industry), counts)| cell(division, industry, counts))
            .collect();
        cells.sort_unstable_by(|a, b| (&a.division, &a.industry).cmp(&(&b.division, &b.industry)));
        let unplaced = (self.unplaced.0 > 0).then(|| cell(String::new(), String::new(), self.unplaced));
        StatsCube {
            as_of: Some(as_of),
            model_version: model_version.to_string(),
            batch,
            columns: self.columns,
            cells,
            unplaced,
            complete: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(division: &str, industry: &str, columns: &[&str]) -> Tally {
        Tally {
            division: division.into(),
            industry: industry.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn taking_a_tally_away_undoes_adding_it() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let a = tally("320102", "C", &["type:enterprise", "grade:B", "list:X", "list:X"]);
        let b = tally("320102", "C", &["type:enterprise", "grade:A"]);
        let mut builder = CubeBuilder::default();
        builder.add(&a, 1);
        let once = builder.finish(day, "m", Some(1));
        let mut builder = CubeBuilder::from_cube(&once);
        builder.add(&b, 1);
        builder.add(&b, -1);
        let again = builder.finish(day, "m", Some(1));
        assert_eq!(again.cells, once.cells, "the cells are as before; a column emptied again is trimmed from them");
        assert_eq!(again.columns.len(), 4, "the column itself stays: an incremental run may fill it again");
        let cell = &once.cells[0];
        assert_eq!((cell.subjects, cell.counts.clone()), (1, vec![1, 1, 2]));
        let mut builder = CubeBuilder::from_cube(&once);
        builder.add(&a, -1);
        builder.add(&tally("", "C", &["type:enterprise", "grade:C"]), 1);
        let unplaced = builder.finish(day, "m", None);
        assert!(unplaced.cells.is_empty(), "no division, no cell; empty cells dropped");
        let count = |cube: &StatsCube, column: &str| cube.totals().expect("complete").get(column).copied().unwrap_or(0);
        assert!(unplaced.complete, "a cube built now counts every subject");
        assert_eq!(
            (count(&unplaced, "type:enterprise"), count(&unplaced, "grade:C"), count(&unplaced, "grade:B")),
            (1, 1, 0)
        );
        // Kept across an incremental run's rebuild, and taken away like any tally.
        let mut builder = CubeBuilder::from_cube(&unplaced);
        builder.add(&b, 1);
        let both = builder.finish(day, "m", None);
        assert_eq!((count(&both, "type:enterprise"), count(&both, "grade:C"), count(&both, "grade:A")), (2, 1, 1));
        let mut builder = CubeBuilder::from_cube(&both);
        builder.add(&tally("", "C", &["type:enterprise", "grade:C"]), -1);
        let placed_only = builder.finish(day, "m", None);
        assert_eq!(placed_only.unplaced, None);
        assert_eq!((count(&placed_only, "grade:C"), count(&placed_only, "grade:A")), (0, 1));
        let old = StatsCube { complete: false, ..placed_only };
        assert_eq!(old.totals(), None, "a cube stored before: no totals to trust");
    }

    #[test]
    fn industry_keys_are_the_section_or_the_two_digit_division() {
        assert_eq!(industry_key(Some("c3911")), "C");
        assert_eq!(industry_key(Some(" 3911")), "39");
        assert_eq!(industry_key(Some("3")), "unknown");
        assert_eq!(industry_key(Some("行业")), "unknown", "a multi-byte start is not cut inside a character");
        assert_eq!(industry_key(None), "unknown");
    }
}
