//! Cases (objections, repairs, corrections) and their steps, with the record → case index.

use super::{BatchGuard, Store, StoreError, from_json, keys, to_json};
use crate::engine::{Cf, Engine, collect_prefix};
use crate::model::RecordId;
use crate::model::case::{Case, CaseStep};

impl<E: Engine> Store<E> {
    pub fn case(&self, id: u64) -> Result<Option<Case>, StoreError> {
        self.engine.get(Cf::Cases, &keys::case(id))?.map(|b| from_json(&b)).transpose()
    }

    /// Every step of a case, oldest first.
    pub fn case_steps(&self, id: u64) -> Result<Vec<CaseStep>, StoreError> {
        collect_prefix(&self.engine, Cf::Cases, &keys::case_steps(id))?
            .into_iter()
            .map(|(_, v)| from_json(&v))
            .collect()
    }

    /// Every case, oldest first, until `visit` says stop.
    pub fn scan_cases(&self, visit: &mut dyn FnMut(Case) -> bool) -> Result<(), StoreError> {
        let mut failed = None;
        self.engine.scan_prefix(Cf::Cases, b"c", &mut |_, value| match from_json::<Case>(value) {
            Ok(case) => visit(case),
            Err(error) => {
                failed = Some(error);
                false
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// The cases about a record, oldest first.
    pub fn cases_about(&self, record: RecordId) -> Result<Vec<Case>, StoreError> {
        let mut ids = Vec::new();
        self.engine.scan_prefix(Cf::Cases, &keys::record_cases(record), &mut |key, _| {
            ids.extend(keys::u64_at(key, 9));
            true
        })?;
        let mut cases = Vec::with_capacity(ids.len());
        for id in ids {
            cases.extend(self.case(id)?);
        }
        Ok(cases)
    }
}

impl<E: Engine> BatchGuard<'_, E> {
    /// Allocates the next case id.
    pub fn next_case_id(&mut self) -> Result<u64, StoreError> {
        let next = match self.writer.get(Cf::Meta, keys::NEXT_CASE)? {
            Some(bytes) => from_json::<u64>(&bytes)?,
            None => 1,
        };
        self.writer.put(Cf::Meta, keys::NEXT_CASE.to_vec(), to_json(&(next + 1)))?;
        Ok(next)
    }

    /// A case as this batch left it.
    pub fn pending_case(&self, id: u64) -> Result<Option<Case>, StoreError> {
        self.writer.get(Cf::Cases, &keys::case(id))?.map(|b| from_json(&b)).transpose()
    }

    /// Writes a case's new state with the step that led to it; a case's first step also indexes the
    /// case under its record.
    pub fn put_case(&mut self, case: &Case, step: &CaseStep) -> Result<(), StoreError> {
        if step.version == 1 {
            self.writer.put_new(Cf::Cases, keys::record_case(case.record, case.id), Vec::new())?;
        }
        self.writer.put(Cf::Cases, keys::case(case.id), to_json(case))?;
        self.writer.put_new(Cf::Cases, keys::case_step(case.id, step.version), to_json(step))
    }
}
