//! Stored evaluations: each subject's latest with its statistics tally, so a run can tell which grades
//! changed and distributions need no recomputation; the mark of how far the store's changes are
//! reflected; and the statistics cube the run left, written with the mark.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{BatchGuard, EncodedRecords, Store, StoreError, from_json, from_stored, keys, to_json, to_msgpack};
use crate::engine::{Cf, Engine};
use crate::evaluation::{Evaluation, StatsCube, StoredEvaluation};
use crate::model::{BatchId, RecordVersion, Subject, SubjectId};

/// The day written in every stored evaluation: the real one is the mark's ([`EvaluatedThrough::as_of`]),
/// since a run stores all of them for its day, and reads put it back.
const STORED_DAY: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");

/// A stored evaluation's grade alone, decoded without the rest (a run compares grades).
#[derive(Deserialize)]
struct GradeOf {
    #[serde(default)]
    evaluation: Option<GradeOnly>,
}

#[derive(Deserialize)]
struct GradeOnly {
    grade: String,
}

/// The grade in a stored evaluation's bytes, if it has an evaluation.
pub(crate) fn stored_grade(bytes: &[u8]) -> Result<Option<String>, StoreError> {
    Ok(from_stored::<GradeOf>(bytes)?.evaluation.map(|e| e.grade))
}

/// A stored evaluation's bytes decoded.
pub(crate) fn decode_stored_evaluation(bytes: &[u8]) -> Result<StoredEvaluation, StoreError> {
    from_stored(bytes)
}

/// How far the stored evaluations go: the last batch whose changes they reflect, under which model
/// version, for which day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluatedThrough {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchId>,
    pub model_version: String,
    pub as_of: NaiveDate,
}

impl<E: Engine> Store<E> {
    /// The latest stored evaluation of a subject.
    pub fn evaluation(&self, subject: SubjectId) -> Result<Option<Evaluation>, StoreError> {
        Ok(self.stored_evaluation(subject)?.and_then(|s| s.evaluation))
    }

    /// The latest stored evaluation of a subject with its statistics tally.
    pub fn stored_evaluation(&self, subject: SubjectId) -> Result<Option<StoredEvaluation>, StoreError> {
        let Some(bytes) = self.engine.get(Cf::Evaluations, &keys::subject(subject))? else { return Ok(None) };
        let mut stored = decode_stored_evaluation(&bytes)?;
        if let Some(evaluation) = stored.evaluation.as_mut() {
            evaluation.as_of = self.evaluated_day()?;
        }
        Ok(Some(stored))
    }

    /// The day every stored evaluation is of: the mark's ([`STORED_DAY`] without one).
    fn evaluated_day(&self) -> Result<NaiveDate, StoreError> {
        Ok(self.evaluated_through()?.map_or(STORED_DAY, |m| m.as_of))
    }

    /// Every stored evaluation, in subject order, until `visit` says stop.
    pub fn scan_evaluations(&self, visit: &mut dyn FnMut(Evaluation) -> bool) -> Result<(), StoreError> {
        let mut failed = None;
        let day = self.evaluated_day()?;
        self.engine.scan_prefix(Cf::Evaluations, b"", &mut |_, value| match decode_stored_evaluation(value) {
            Ok(StoredEvaluation { evaluation: Some(mut evaluation), .. }) => {
                evaluation.as_of = day;
                visit(evaluation)
            }
            Ok(_) => true,
            Err(error) => {
                failed = Some(error);
                false
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    pub fn evaluated_through(&self) -> Result<Option<EvaluatedThrough>, StoreError> {
        self.engine.get(Cf::Meta, keys::EVALUATED_THROUGH)?.map(|b| from_json(&b)).transpose()
    }

    /// The statistics cube the last run left (written with the mark, so it matches it).
    pub fn stats_cube(&self) -> Result<Option<StatsCube>, StoreError> {
        self.engine.get(Cf::Meta, keys::STATS_CUBE)?.map(|b| from_stored(&b)).transpose()
    }

    /// Every subject with its current records, in subject order, read in one pass over the current
    /// family, until `visit` says stop (a full evaluation run, a statistics pass).
    pub fn scan_current_pages(
        &self,
        visit: &mut dyn FnMut(Subject, Vec<RecordVersion>) -> bool,
    ) -> Result<(), StoreError> {
        self.scan_current_pages_between(SubjectId(0), None, visit)
    }

    /// The ids subjects have so far: every one is below this.
    pub fn subject_id_bound(&self) -> Result<u64, StoreError> {
        self.next_id(keys::NEXT_SUBJECT)
    }

    /// As [`Self::scan_current_pages`], for the subjects from `start` up to (not including) `end`: the
    /// part of a scan one thread reads.
    pub fn scan_current_pages_between(
        &self,
        start: SubjectId,
        end: Option<SubjectId>,
        visit: &mut dyn FnMut(Subject, Vec<RecordVersion>) -> bool,
    ) -> Result<(), StoreError> {
        let mut failed: Option<StoreError> = None;
        let mut subject: Option<Vec<u8>> = None;
        let mut records: Vec<Vec<u8>> = Vec::new();
        let mut flush = |subject: Option<Vec<u8>>, records: Vec<Vec<u8>>| -> Result<bool, StoreError> {
            let Some(bytes) = subject else { return Ok(true) };
            let subject = from_stored::<Subject>(&bytes)?;
            let versions = EncodedRecords(records).decode()?.into_iter().map(|r| r.current).collect();
            Ok(visit(subject, versions))
        };
        let mut current_id: Option<u64> = None;
        let mut stopped = false;
        let end = end.map(keys::subject);
        self.engine.scan_range(Cf::Current, &keys::subject(start), end.as_deref(), &mut |key, value| {
            let Some(id) = keys::u64_at(key, 0) else { return true };
            if current_id != Some(id) {
                match flush(subject.take(), std::mem::take(&mut records)) {
                    Ok(true) => {}
                    Ok(false) => {
                        stopped = true;
                        return false;
                    }
                    Err(error) => {
                        failed = Some(error);
                        return false;
                    }
                }
                current_id = Some(id);
            }
            match key.len() {
                keys::SUBJECT_KEY_BYTES => subject = Some(value.to_vec()),
                keys::SUBJECT_RECORD_KEY_BYTES => records.push(value.to_vec()),
                _ => {}
            }
            true
        })?;
        if let Some(error) = failed {
            return Err(error);
        }
        if !stopped {
            flush(subject, records)?;
        }
        Ok(())
    }
}

impl<E: Engine> BatchGuard<'_, E> {
    /// The stored evaluations of `subjects` as this batch left them (raw), in one batched read.
    pub fn stored_evaluations(&self, subjects: &[SubjectId]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let keys: Vec<Vec<u8>> = subjects.iter().map(|s| keys::subject(*s)).collect();
        self.writer.multi_get(Cf::Evaluations, &keys)
    }

    /// Stores a subject's evaluation over `before`, its stored bytes as [`Self::stored_evaluations`]
    /// read them; not at all when it is the same evaluation again. The day is left out (it is the
    /// mark's), so a subject whose evaluation did not change from one day's run to the next is not
    /// written again.
    pub fn put_evaluation(&mut self, before: Option<&[u8]>, mut stored: StoredEvaluation) -> Result<(), StoreError> {
        if let Some(evaluation) = stored.evaluation.as_mut() {
            evaluation.as_of = STORED_DAY;
        }
        let subject = stored.subject;
        let value = to_msgpack(&stored);
        if before == Some(value.as_slice()) {
            // The same evaluation again: nothing to write, nothing to undo.
            return Ok(());
        }
        self.writer.put_replacing(Cf::Evaluations, keys::subject(subject), before, value)
    }

    /// Records how far the stored evaluations go, with the statistics cube they add up to.
    pub fn set_evaluated_through(&mut self, mark: &EvaluatedThrough, cube: &StatsCube) -> Result<(), StoreError> {
        self.writer.put(Cf::Meta, keys::EVALUATED_THROUGH.to_vec(), to_json(mark))?;
        self.writer.put(Cf::Meta, keys::STATS_CUBE.to_vec(), to_msgpack(cube))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{MemoryEngine, WriteBatch};

    #[test]
    fn schema_9_evaluations_are_dropped_with_their_mark_so_the_next_run_is_full() {
        let engine = MemoryEngine::new();
        let mut v9 = WriteBatch::new();
        v9.put(Cf::Meta, keys::SCHEMA_VERSION, "9");
        // Schema 9 stored each evaluation as JSON, without a tally.
        v9.put(Cf::Evaluations, keys::subject(SubjectId(7)), br#"{"subject":7,"grade":"B"}"#.to_vec());
        let mark = EvaluatedThrough {
            batch: Some(BatchId(3)),
            model_version: "local-2026.1".into(),
            as_of: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        };
        v9.put(Cf::Meta, keys::EVALUATED_THROUGH, to_json(&mark));
        engine.write(v9).unwrap();
        let store = Store::open(engine).unwrap();
        assert_eq!(store.evaluated_through().unwrap(), None);
        assert_eq!(store.stats_cube().unwrap(), None);
        assert!(store.stored_evaluation(SubjectId(7)).unwrap().is_none());
        assert_eq!(store.stats(NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()).unwrap().schema_version, 10);
    }
}
