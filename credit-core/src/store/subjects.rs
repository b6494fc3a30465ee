//! Subjects: the current state of each, its versions, its identifiers and the person → organisation links.
//!
//! Reads on [`Store`]; the one subject writer, [`BatchGuard::put_subject`], keeps the current value (in
//! `subjects`, and in `current` beside the subject's records for the one-seek lookup), a history version, the identifier and name index and the related-person index in step.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::subject_cache::Lookup;
use super::{BatchGuard, Store, StoreError, from_json, keys, parse_id, to_json, to_msgpack, with_field};
use crate::engine::{Cf, Engine, collect_prefix};
use crate::ident::normalize_code;
use crate::model::{IdentifierKind, RelatedRole, Subject, SubjectId, SubjectType, SubjectVersion, hash_json};

/// A subject as [`Store::scan_subject_bytes`] found it.
pub(crate) fn decode_subject(bytes: &[u8]) -> Result<Subject, StoreError> {
    from_json(bytes)
}

impl<E: Engine> Store<E> {
    pub fn subject(&self, id: SubjectId) -> Result<Option<Subject>, StoreError> {
        Ok(self.subject_shared(id)?.map(Arc::unwrap_or_clone))
    }

    /// The current subject, shared with the subject cache (no copy).
    pub fn subject_shared(&self, id: SubjectId) -> Result<Option<Arc<Subject>>, StoreError> {
        let ticket = match self.subject_cache.lookup(id) {
            Lookup::Hit(subject) => return Ok(Some(subject)),
            Lookup::Miss(ticket) => ticket,
        };
        let Some(bytes) = self.engine.get(Cf::Subjects, &keys::subject(id))? else {
            return Ok(None);
        };
        let subject = Arc::new(from_json::<Subject>(&bytes)?);
        self.subject_cache.offer(ticket, &subject, bytes.len());
        Ok(Some(subject))
    }

    /// Finds a subject by any identifier (unified code, organisation code, registration number, tax
    /// number, ID number), typed or pasted in any form.
    pub fn find_subject(&self, identifier: &str) -> Result<Option<Subject>, StoreError> {
        let Some(id) = self.find_subject_id(identifier)? else {
            return Ok(None);
        };
        self.subject(id)
    }

    pub fn find_subject_id(&self, identifier: &str) -> Result<Option<SubjectId>, StoreError> {
        for (kind, value) in candidate_keys(identifier) {
            if let Some(bytes) = self.engine.get(Cf::Idents, &keys::identifier(kind, &value))? {
                return Ok(Some(SubjectId(parse_id(&bytes)?)));
            }
        }
        Ok(None)
    }

    /// Every current subject, in id order, until `visit` returns `false`.
    pub fn scan_subjects(&self, visit: &mut dyn FnMut(Subject) -> bool) -> Result<(), StoreError> {
        let mut failed = None;
        self.scan_subject_bytes(&mut |value| match decode_subject(value) {
            Ok(subject) => visit(subject),
            Err(e) => {
                failed = Some(e);
                false
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// Every current subject as stored, in id order, for readers that decode on threads of their own
    /// ([`decode_subject`]); `visit` returns false to stop.
    pub(crate) fn scan_subject_bytes(&self, visit: &mut dyn FnMut(&[u8]) -> bool) -> Result<(), StoreError> {
        self.engine.scan_prefix(Cf::Subjects, b"", &mut |_, value| visit(value))?;
        Ok(())
    }

    /// Every version of a subject, oldest first.
    pub fn subject_history(&self, id: SubjectId) -> Result<Vec<SubjectVersion>, StoreError> {
        collect_prefix(&self.engine, Cf::SubjectVersions, &keys::subject(id))?
            .into_iter()
            .map(|(_, v)| from_json(&v))
            .collect()
    }

    /// The subject as the platform knew it at `known_at` (`None`: now).
    pub fn subject_known_at(
        &self,
        id: SubjectId,
        known_at: Option<DateTime<Utc>>,
    ) -> Result<Option<Subject>, StoreError> {
        let Some(known_at) = known_at else {
            return self.subject(id);
        };
        Ok(self.subject_history(id)?.into_iter().rev().find(|v| v.recorded_at <= known_at).map(|v| v.subject))
    }

    /// The organisations where a person holds a role, with the role.
    pub fn organisations_of(&self, person: SubjectId) -> Result<Vec<(SubjectId, RelatedRole)>, StoreError> {
        let mut out = Vec::new();
        self.engine.scan_prefix(Cf::Related, &keys::subject(person), &mut |key, _| {
            out.extend(keys::related_organisation(key));
            true
        })?;
        Ok(out)
    }
}

/// The index keys a typed identifier could be stored under, most specific first.
fn candidate_keys(identifier: &str) -> Vec<(IdentifierKind, String)> {
    let normalized = normalize_code(identifier);
    let mut out = Vec::new();
    if let Ok(found) = crate::ident::Identifier::parse(identifier) {
        for id in std::iter::once(&found.identifier).chain(&found.alternatives) {
            out.push((id.kind(), id.as_str().to_string()));
        }
    }
    // Whatever the shape, it may be a stored tax number (never validated) or an unchecked legacy value.
    for kind in
        [IdentifierKind::Tax, IdentifierKind::Uscc, IdentifierKind::OrgCode, IdentifierKind::Gs15, IdentifierKind::Ric]
    {
        if !out.iter().any(|(k, v)| *k == kind && *v == normalized) {
            out.push((kind, normalized.clone()));
        }
    }
    out
}

impl<E: Engine> BatchGuard<'_, E> {
    /// The subject an identifier points to, as this batch left it.
    pub fn subject_by_identifier(&self, kind: IdentifierKind, value: &str) -> Result<Option<SubjectId>, StoreError> {
        self.subject_at(&keys::identifier(kind, value))
    }

    /// The organisation registered under exactly `name` in `division`, as this batch left it.
    pub fn subject_by_name(&self, division: &str, name: &str) -> Result<Option<SubjectId>, StoreError> {
        self.subject_at(&keys::name_in_division(division, name))
    }

    fn subject_at(&self, key: &[u8]) -> Result<Option<SubjectId>, StoreError> {
        match self.writer.get(Cf::Idents, key)? {
            Some(bytes) => Ok(Some(SubjectId(parse_id(&bytes)?))),
            None => Ok(None),
        }
    }

    /// The current subject as this batch left it.
    pub fn pending_subject(&self, id: SubjectId) -> Result<Option<Subject>, StoreError> {
        self.writer.get(Cf::Subjects, &keys::subject(id))?.map(|b| from_json(&b)).transpose()
    }

    /// Stores a new state of a subject (`previous`: its state before, `None` for a new subject): the
    /// current value, a history version, the identifier and name index, the related-person index, the
    /// change log and the counters, together. The version is recorded at the batch's time, from the
    /// batch's department.
    pub fn put_subject(&mut self, subject: &Subject, previous: Option<&Subject>) -> Result<(), StoreError> {
        let counter = subject_version_counter(subject.id);
        let version = match previous {
            None => 1,
            Some(_) => {
                self.writer
                    .get(Cf::Meta, &counter)?
                    .and_then(|b| String::from_utf8(b).ok()?.parse::<u32>().ok())
                    .unwrap_or(0)
                    + 1
            }
        };
        let subject_json = to_json(subject);
        let hash = hash_json(&subject_json);
        let header = SubjectVersionHeader {
            version,
            recorded_at: self.info.started_at,
            batch: self.info.id,
            source_dept: self.info.source_dept.as_deref(),
            hash: &hash,
        };
        let stored_version = with_field(&header, "subject", &subject_json);
        let writer = &mut self.writer;
        match previous {
            // A new subject's keys are new: its identifiers were all looked up and not found.
            None => writer.put_new(Cf::Meta, counter, version.to_string().into_bytes())?,
            Some(_) => writer.put(Cf::Meta, counter, version.to_string().into_bytes())?,
        }
        writer.put_new(Cf::SubjectVersions, keys::subject_version(subject.id, version), stored_version)?;
        let id_bytes = subject.id.0.to_be_bytes().to_vec();
        match previous {
            None => {
                writer.put_new(Cf::Current, keys::subject(subject.id), to_msgpack(subject))?;
                writer.put_new(Cf::Subjects, keys::subject(subject.id), subject_json)?;
                for identifier in &subject.identifiers {
                    writer.put_new(
                        Cf::Idents,
                        keys::identifier(identifier.kind, &identifier.value),
                        id_bytes.clone(),
                    )?;
                }
            }
            Some(previous) => {
                writer.put(Cf::Current, keys::subject(subject.id), to_msgpack(subject))?;
                writer.put(Cf::Subjects, keys::subject(subject.id), subject_json)?;
                for identifier in subject.identifiers.iter().filter(|i| !previous.identifiers.contains(i)) {
                    writer.put(Cf::Idents, keys::identifier(identifier.kind, &identifier.value), id_bytes.clone())?;
                }
            }
        }
        if subject.subject_type != SubjectType::NaturalPerson
            && let Some(division) = &subject.division
        {
            let renamed = previous.is_none_or(|p| p.name != subject.name || p.division != subject.division);
            if renamed {
                writer.put(Cf::Idents, keys::name_in_division(division, &subject.name), id_bytes)?;
            }
        }
        self.put_related(subject, previous)?;
        self.reach_changes.subject_written(subject, previous);
        self.touch(subject.id)?;
        let counters = &mut self.counters;
        counters.subject_versions += 1;
        match previous {
            None => {
                counters.subjects += 1;
                if subject.provisional {
                    counters.provisional_subjects += 1;
                }
            }
            Some(p) if p.provisional && !subject.provisional => {
                counters.provisional_subjects = counters.provisional_subjects.saturating_sub(1);
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Keeps the person → organisation index in step with the subject's related persons.
    fn put_related(&mut self, subject: &Subject, previous: Option<&Subject>) -> Result<(), StoreError> {
        let now: Vec<(SubjectId, RelatedRole)> = subject.linked_persons().collect();
        let before: Vec<(SubjectId, RelatedRole)> = previous.map(|p| p.linked_persons().collect()).unwrap_or_default();
        if now == before {
            return Ok(());
        }
        // Checks consider an organisation's persons in its order: a reordering changes its reach too.
        for (person, _) in before.iter().chain(&now) {
            self.reach_changes.link_changed(subject.id, *person);
        }
        for (person, role) in before.iter().filter(|l| !now.contains(l)) {
            self.writer.delete(Cf::Related, keys::related(*person, subject.id, *role))?;
        }
        for (person, role) in now.iter().filter(|l| !before.contains(l)) {
            let key = keys::related(*person, subject.id, *role);
            match previous {
                // The key holds the new subject's id: it cannot exist yet.
                None => self.writer.put_new(Cf::Related, key, Vec::new())?,
                Some(_) => self.writer.put(Cf::Related, key, Vec::new())?,
            }
        }
        Ok(())
    }
}

/// Meta key holding a subject's latest version number.
fn subject_version_counter(id: SubjectId) -> Vec<u8> {
    let mut key = b"subject_version/".to_vec();
    key.extend_from_slice(&id.0.to_be_bytes());
    key
}

/// A [`SubjectVersion`] without its subject, which is serialised once and spliced in.
#[derive(serde::Serialize)]
struct SubjectVersionHeader<'a> {
    version: u32,
    recorded_at: DateTime<Utc>,
    batch: crate::model::BatchId,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_dept: Option<&'a str>,
    hash: &'a str,
}
