//! Stored evaluations: each subject's latest, so a run can tell which grades changed and distributions
//! need no recomputation, with the mark of how far the store's changes are reflected.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{BatchGuard, EncodedRecords, Store, StoreError, from_json, from_stored, keys, to_json};
use crate::engine::{Cf, Engine};
use crate::evaluation::Evaluation;
use crate::model::{BatchId, RecordVersion, Subject, SubjectId};

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
        self.engine.get(Cf::Evaluations, &keys::subject(subject))?.map(|b| from_json(&b)).transpose()
    }

    /// Every stored evaluation, in subject order, until `visit` says stop.
    pub fn scan_evaluations(&self, visit: &mut dyn FnMut(Evaluation) -> bool) -> Result<(), StoreError> {
        let mut failed = None;
        self.engine.scan_prefix(Cf::Evaluations, b"", &mut |_, value| match from_json::<Evaluation>(value) {
            Ok(evaluation) => visit(evaluation),
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

    /// Every subject with its current records, in subject order, read in one pass over the current
    /// family, until `visit` says stop (a full evaluation run, a statistics pass).
    pub fn scan_current_pages(
        &self,
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
        self.engine.scan_prefix(Cf::Current, b"", &mut |key, value| {
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
    pub fn put_evaluation(&mut self, evaluation: &Evaluation) -> Result<(), StoreError> {
        self.writer.put(Cf::Evaluations, keys::subject(evaluation.subject), to_json(evaluation))
    }

    pub fn set_evaluated_through(&mut self, mark: &EvaluatedThrough) -> Result<(), StoreError> {
        self.writer.put(Cf::Meta, keys::EVALUATED_THROUGH.to_vec(), to_json(mark))
    }
}
