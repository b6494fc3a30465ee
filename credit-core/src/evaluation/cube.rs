//! The statistics cube an evaluation run keeps (issue 26, the credit map): every subject's counts
//! summed per finest cell (its six-digit division and its industry), so statistics for any division
//! prefix, level or industry add up a few thousand cells instead of reading every subject.
//!
//! Each subject's own contribution, its [`Tally`], is stored beside its evaluation: an incremental run
//! takes a changed subject's old tally away and adds its new one, so the cube it leaves equals the one
//! a full run would build.

// Millions of lookups a run: a fast, seeded hash.
use foldhash::{HashMap, HashMapExt};

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
}

/// A cube being built or updated.
#[derive(Debug, Default)]
pub struct CubeBuilder {
    columns: Vec<String>,
    column_index: HashMap<String, usize>,
    /// Division → industry → (subjects, counts per column).
    cells: HashMap<String, HashMap<String, (i64, Vec<i64>)>>,
}

impl CubeBuilder {
    /// Starts from a stored cube (an incremental run).
    pub fn from_cube(cube: &StatsCube) -> CubeBuilder {
        let mut builder = CubeBuilder {
            columns: cube.columns.clone(),
            column_index: cube.columns.iter().enumerate().map(|(i, c)| (c.clone(), i)).collect(),
            cells: HashMap::new(),
        };
        for cell in &cube.cells {
            let counts = cell.counts.iter().map(|&n| i64::try_from(n).unwrap_or(i64::MAX)).collect();
            builder
                .cells
                .entry(cell.division.clone())
                .or_default()
                .insert(cell.industry.clone(), (i64::try_from(cell.subjects).unwrap_or(i64::MAX), counts));
        }
        builder
    }

    /// Adds (`sign` 1) or takes away (`sign` -1) one subject's tally.
    pub fn add(&mut self, tally: &Tally, sign: i64) {
        if tally.division.is_empty() {
            return;
        }
        let indexes: Vec<usize> = tally.columns.iter().map(|c| self.column(c)).collect();
        // Looked up by reference: a subject's cell mostly exists already.
        if !self.cells.contains_key(&tally.division) {
            self.cells.insert(tally.division.clone(), HashMap::new());
        }
        let industries = self.cells.get_mut(&tally.division).expect("inserted above");
        if !industries.contains_key(&tally.industry) {
            industries.insert(tally.industry.clone(), (0, Vec::new()));
        }
        let cell = industries.get_mut(&tally.industry).expect("inserted above");
        cell.0 += sign;
        for i in indexes {
            if cell.1.len() <= i {
                cell.1.resize(i + 1, 0);
            }
            cell.1[i] += sign;
        }
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
        let mut cells: Vec<CubeCell> = self
            .cells
            .into_iter()
            .flat_map(|(division, industries)| {
                industries.into_iter().map(move |(i, cell)| ((division.clone(), i), cell))
            })
            .filter(|(_, (subjects, _))| *subjects > 0)
            .map(|((division, industry), (subjects, counts))| {
                let mut counts: Vec<u64> = counts.into_iter().map(unsigned).collect();
                while counts.last() == Some(&0) {
                    counts.pop();
                }
                CubeCell { division, industry, subjects: unsigned(subjects), counts }
            })
            .collect();
        cells.sort_unstable_by(|a, b| (&a.division, &a.industry).cmp(&(&b.division, &b.industry)));
        StatsCube { as_of: Some(as_of), model_version: model_version.to_string(), batch, columns: self.columns, cells }
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
        builder.add(&tally("", "C", &["type:enterprise"]), 1);
        assert!(builder.finish(day, "m", None).cells.is_empty(), "no division, no cell; empty cells dropped");
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
