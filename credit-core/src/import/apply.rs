//! Linking validated rows to subjects and writing them as new subjects, versions or nothing at all.

use chrono::{DateTime, Utc};

use super::ImportSummary;
use super::rows::{RecordInput, RowError, SubjectInput};
use crate::engine::{Cf, Engine};
use crate::model::{
    IdentifierKind, RecordHead, RelatedPerson, RelatedRole, StoredIdentifier, Subject, SubjectId, SubjectType,
    hash_json,
};
use crate::store::{BatchGuard, StoreError, from_json, keys, parse_id, to_json};

/// Writes rows into one batch.
pub struct Applier<'g, 's, E: Engine> {
    pub guard: &'g mut BatchGuard<'s, E>,
    pub recorded_at: DateTime<Utc>,
    pub source_dept: Option<String>,
    /// Subject rows are authoritative ([`super::ImportOptions::registration`]).
    pub registration: bool,
}

impl<E: Engine> Applier<'_, '_, E> {
    fn lookup(&self, kind: IdentifierKind, value: &str) -> Result<Option<SubjectId>, StoreError> {
        self.subject_at(&keys::identifier(kind, value))
    }

    fn lookup_name(&self, division: &str, name: &str) -> Result<Option<SubjectId>, StoreError> {
        self.subject_at(&keys::name_in_division(division, name))
    }

    /// The subject an index key points to.
    fn subject_at(&self, key: &[u8]) -> Result<Option<SubjectId>, StoreError> {
        match self.guard.writer.get(Cf::Idents, key)? {
            Some(bytes) => Ok(Some(SubjectId(parse_id(&bytes)?))),
            None => Ok(None),
        }
    }

    fn load(&self, id: SubjectId) -> Result<Option<Subject>, StoreError> {
        self.guard.writer.get(Cf::Subjects, &keys::subject(id))?.map(|b| from_json(&b)).transpose()
    }

    /// Stores a new state of a subject: current value, a history version, and index entries.
    fn save_subject(&mut self, subject: &Subject, previous: Option<&Subject>) -> Result<(), StoreError> {
        let version = match previous {
            None => 1,
            Some(_) => {
                self.guard
                    .writer
                    .get(Cf::Meta, &subject_version_counter(subject.id))?
                    .and_then(|b| String::from_utf8(b).ok()?.parse::<u32>().ok())
                    .unwrap_or(0)
                    + 1
            }
        };
        let subject_json = to_json(subject);
        let hash = hash_json(&subject_json);
        let header = SubjectVersionHeader {
            version,
            recorded_at: self.recorded_at,
            batch: self.guard.info.id,
            source_dept: self.source_dept.as_deref(),
            hash: &hash,
        };
        let stored_version = with_field(&header, "subject", &subject_json);
        let writer = &mut self.guard.writer;
        let counter = subject_version_counter(subject.id);
        match previous {
            // A new subject's keys are new: its identifiers were all looked up and not found.
            None => writer.put_new(Cf::Meta, counter, version.to_string().into_bytes())?,
            Some(_) => writer.put(Cf::Meta, counter, version.to_string().into_bytes())?,
        }
        writer.put_new(Cf::SubjectVersions, keys::subject_version(subject.id, version), stored_version)?;
        let id_bytes = subject.id.0.to_be_bytes().to_vec();
        match previous {
            None => {
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
        self.save_related(subject, previous)?;
        self.guard.touch(subject.id)?;
        let counters = &mut self.guard.counters;
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
    fn save_related(&mut self, subject: &Subject, previous: Option<&Subject>) -> Result<(), StoreError> {
        let links = |s: &Subject| -> Vec<Vec<u8>> {
            s.related.iter().filter_map(|r| Some(keys::related(r.subject?, s.id, r.role))).collect()
        };
        let now = links(subject);
        let before = previous.map(links).unwrap_or_default();
        for key in before.iter().filter(|k| !now.contains(k)) {
            self.guard.writer.delete(Cf::Related, key.clone())?;
        }
        for key in now.into_iter().filter(|k| !before.contains(k)) {
            match previous {
                // The key holds the new subject's id: it cannot exist yet.
                None => self.guard.writer.put_new(Cf::Related, key, Vec::new())?,
                Some(_) => self.guard.writer.put(Cf::Related, key, Vec::new())?,
            }
        }
        Ok(())
    }

    /// A natural person by ID number, created provisionally (named as the row names them) when unknown.
    fn person(&mut self, name: &str, id_number: &str, summary: &mut ImportSummary) -> Result<SubjectId, StoreError> {
        if let Some(id) = self.lookup(IdentifierKind::Ric, id_number)? {
            return Ok(id);
        }
        let id = self.guard.next_subject_id();
        let identifiers = vec![StoredIdentifier { kind: IdentifierKind::Ric, value: id_number.to_string() }];
        // Validated as a resident ID number by the row; a division is six digits all the same.
        let division = id_number.get(..6).filter(|d| d.bytes().all(|b| b.is_ascii_digit())).map(str::to_string);
        let subject = Subject::provisional(id, SubjectType::NaturalPerson, name, identifiers, division);
        self.save_subject(&subject, None)?;
        summary.provisional_subjects += 1;
        Ok(id)
    }

    /// Applies a subject row: completes a provisional subject in place, adds a version when something
    /// changed, or does nothing when the row says what the store already knows. From a source that is not
    /// a registration authority, a row only creates a provisional subject; a row about a known subject is
    /// refused (returned, for the caller to report as the row's reject).
    pub fn subject(
        &mut self,
        input: SubjectInput,
        summary: &mut ImportSummary,
    ) -> Result<Option<RowError>, StoreError> {
        let mut existing = None;
        for identifier in input.identifiers.all() {
            if let Some(id) = self.lookup(identifier.kind, &identifier.value)? {
                existing = Some(id);
                break;
            }
        }
        if let (false, Some(id)) = (self.registration, existing) {
            return Ok(Some(RowError {
                column: Some("source_dept".into()),
                reason: format!(
                    "subject {} is known; only a registration department (registration_departments) changes \
                     a subject, not {:?}",
                    id.0,
                    self.source_dept.as_deref().unwrap_or("")
                ),
            }));
        }
        let previous = match existing {
            Some(id) => self.load(id)?,
            None => None,
        };
        let id = match &previous {
            Some(p) => p.id,
            None => self.guard.next_subject_id(),
        };
        // The row's related persons replace those of the roles it names; the legal representative
        // column is always part of a subject file, other roles only when delivered.
        let mut delivered = vec![RelatedRole::LegalRepresentative];
        delivered.extend(input.other_related.iter().map(|r| r.role));
        let mut related = Vec::new();
        for mut person in input.legal_rep.clone().into_iter().chain(input.other_related.clone()) {
            // Only a resident ID number (validated by the row) finds or makes a natural person; a passport
            // or another document's number stays on the link alone.
            let resident = super::rows::is_resident_id_type(person.id_type.as_deref());
            if let Some(id_number) = person.id_number.clone().filter(|n| resident && n.len() == 18) {
                person.subject = Some(self.person(&person.name, &id_number, summary)?);
            }
            related.push(person);
        }
        if let Some(p) = &previous {
            related.extend(p.related.iter().filter(|r| !delivered.contains(&r.role)).cloned());
        }
        let mut identifiers = input.identifiers.all();
        if let Some(p) = &previous {
            for known in &p.identifiers {
                if !identifiers.contains(known) {
                    identifiers.push(known.clone());
                }
            }
        }
        let mut former_names = previous.as_ref().map(|p| p.former_names.clone()).unwrap_or_default();
        for name in input.former_names {
            if !former_names.contains(&name) {
                former_names.push(name);
            }
        }
        if let Some(p) = &previous
            && p.name != input.name
            && !p.provisional
            && !former_names.contains(&p.name)
        {
            former_names.push(p.name.clone());
        }
        let subject = Subject {
            id,
            subject_type: input.subject_type,
            base: input.subject_type.base(),
            name: input.name,
            former_names,
            identifiers,
            division: input.division,
            established: input.established,
            status: input.status,
            address: input.address,
            phone: input.phone,
            related,
            provisional: !self.registration,
            attributes: input.attributes,
        };
        if previous.as_ref().is_some_and(|p| *p == subject) {
            summary.unchanged += 1;
            return Ok(None);
        }
        match (&previous, self.registration) {
            (None, true) => summary.new_subjects += 1,
            (None, false) => summary.provisional_subjects += 1,
            (Some(_), _) => summary.updated_subjects += 1,
        }
        self.save_subject(&subject, previous.as_ref())?;
        Ok(None)
    }

    /// Finds the record's subject: by unified code, then other organisation identifiers, then exact name
    /// in the division; natural persons by ID number only. Unknown subjects are created provisionally.
    fn record_subject(&mut self, input: &RecordInput, summary: &mut ImportSummary) -> Result<SubjectId, StoreError> {
        if input.identifiers.organisation.is_empty()
            && let Some(id_number) = &input.identifiers.person
        {
            return self.person(&input.subject_name, id_number, summary);
        }
        for identifier in &input.identifiers.organisation {
            if let Some(id) = self.lookup(identifier.kind, &identifier.value)? {
                return Ok(id);
            }
        }
        if let Some(division) = &input.division_hint
            && let Some(id) = self.lookup_name(division, &input.subject_name)?
        {
            return Ok(id);
        }
        let id = self.guard.next_subject_id();
        let uscc = input.identifiers.uscc();
        let subject_type = uscc.map(SubjectType::from_uscc).unwrap_or(SubjectType::OtherOrganisation);
        let related = match &input.legal_rep {
            Some((name, id_number)) => vec![RelatedPerson {
                role: crate::model::RelatedRole::LegalRepresentative,
                name: name.clone(),
                id_type: None,
                id_number: Some(id_number.clone()),
                subject: Some(self.person(name, id_number, summary)?),
            }],
            None => Vec::new(),
        };
        let division = uscc.map(|c| c[2..8].to_string()).or_else(|| input.division_hint.clone());
        let mut subject = Subject::provisional(
            id,
            subject_type,
            &input.subject_name,
            input.identifiers.organisation.clone(),
            division,
        );
        subject.related = related;
        self.save_subject(&subject, None)?;
        summary.provisional_subjects += 1;
        Ok(id)
    }

    pub fn record(&mut self, input: RecordInput, summary: &mut ImportSummary) -> Result<(), StoreError> {
        let subject = self.record_subject(&input, summary)?;
        let key = keys::record_key(&input.key, subject, input.content.source_dept.as_deref());
        let content_json = to_json(&input.content);
        let hash = hash_json(&content_json);
        let category = input.content.category();
        let existing = match self.guard.writer.get(Cf::RecordKeys, key.as_bytes())? {
            Some(bytes) => {
                let id = crate::model::RecordId(parse_id(&bytes)?);
                let head: RecordHead = self
                    .guard
                    .writer
                    .get(Cf::Records, &keys::record(id))?
                    .map(|b| from_json(&b))
                    .transpose()?
                    .ok_or_else(|| StoreError::Corrupt(format!("record key {key} points to missing {id}")))?;
                Some(head)
            }
            None => None,
        };
        let head = match existing {
            Some(head) if head.latest_hash == hash => {
                summary.unchanged += 1;
                return Ok(());
            }
            Some(mut head) => {
                head.versions += 1;
                head.latest_hash = hash.clone();
                summary.new_versions += 1;
                head
            }
            None => {
                let id = self.guard.next_record_id();
                let writer = &mut self.guard.writer;
                writer.put_new(Cf::RecordKeys, key.clone().into_bytes(), id.0.to_be_bytes().to_vec())?;
                writer.put_new(Cf::SubjectRecords, keys::subject_record(subject, id), Vec::new())?;
                let counters = &mut self.guard.counters;
                counters.records += 1;
                *counters.records_by_category.entry(category.as_str().to_string()).or_default() += 1;
                summary.new_records += 1;
                RecordHead { id, subject, category, key, versions: 1, latest_hash: hash.clone() }
            }
        };
        let header = RecordVersionHeader {
            record: head.id,
            version: head.versions,
            recorded_at: self.recorded_at,
            batch: self.guard.info.id,
            source_dept: input.content.source_dept.as_deref(),
            hash: &hash,
        };
        let version = with_field(&header, "content", &content_json);
        // Versions are not read back within a batch: the previous version comes from the committed
        // store. A record changed twice in one batch reads as new the second time (its event says
        // `listed`/`published` rather than what changed).
        let before = match head.versions {
            1 => None,
            n => self.guard.store().record_version(head.id, n - 1)?.map(|v| v.content),
        };
        self.guard.write_version(&head, version, &input.content)?;
        self.guard.emit(crate::feed::record_change(
            subject,
            head.id,
            head.versions,
            before.as_ref(),
            &input.content,
        ))?;
        Ok(())
    }
}

/// Meta key holding a subject's latest version number.
fn subject_version_counter(id: SubjectId) -> Vec<u8> {
    let mut key = b"subject_version/".to_vec();
    key.extend_from_slice(&id.0.to_be_bytes());
    key
}

/// A [`crate::model::SubjectVersion`] without its subject, which is serialised once and spliced in.
#[derive(serde::Serialize)]
struct SubjectVersionHeader<'a> {
    version: u32,
    recorded_at: DateTime<Utc>,
    batch: crate::model::BatchId,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_dept: Option<&'a str>,
    hash: &'a str,
}

/// A [`crate::model::RecordVersion`] without its content, likewise.
#[derive(serde::Serialize)]
struct RecordVersionHeader<'a> {
    record: crate::model::RecordId,
    version: u32,
    recorded_at: DateTime<Utc>,
    batch: crate::model::BatchId,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_dept: Option<&'a str>,
    hash: &'a str,
}

/// `header`'s JSON object with one more field whose value is already JSON: a version's content is
/// serialised once, for its hash and for the stored value.
fn with_field(header: &impl serde::Serialize, name: &str, json: &[u8]) -> Vec<u8> {
    let mut out = to_json(header);
    debug_assert_eq!(out.last(), Some(&b'}'), "headers are JSON objects with at least one field");
    out.pop();
    out.reserve(name.len() + json.len() + 5);
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    out.extend_from_slice(json);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BatchId, RecordId, RecordVersion, content_hash};

    #[test]
    fn spliced_versions_read_back_as_the_full_type() {
        let mut content = crate::model::tests::list_entry("2024-01-01", Some("2026-01-01"), None);
        content.authority = Some("北京市\"朝阳\"区人民法院".into());
        let content_json = to_json(&content);
        let hash = hash_json(&content_json);
        let recorded_at = Utc::now();
        let header = RecordVersionHeader {
            record: RecordId(7),
            version: 2,
            recorded_at,
            batch: BatchId(3),
            source_dept: Some("dept"),
            hash: &hash,
        };
        let read: RecordVersion = from_json(&with_field(&header, "content", &content_json)).unwrap();
        let expected = RecordVersion {
            record: RecordId(7),
            version: 2,
            recorded_at,
            batch: BatchId(3),
            source_dept: Some("dept".into()),
            hash: content_hash(&content),
            content,
        };
        assert_eq!(read, expected);
    }
}
