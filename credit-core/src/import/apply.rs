//! Linking validated rows to subjects and writing them as new subjects, versions or nothing at all.

use super::ImportSummary;
use super::rows::{RecordInput, RowError, SubjectInput};
use crate::engine::Engine;
use crate::model::{IdentifierKind, RelatedPerson, RelatedRole, StoredIdentifier, Subject, SubjectId, SubjectType};
use crate::store::{BatchGuard, RecordWrite, StoreError, keys};

/// Writes rows into one batch.
pub struct Applier<'g, 's, E: Engine> {
    /// The batch, which also says when the rows are recorded and which department delivered them.
    pub guard: &'g mut BatchGuard<'s, E>,
    /// Subject rows are authoritative ([`super::ImportOptions::registration`]).
    pub registration: bool,
    /// Every subject written, as written, when someone wants them (the search index alongside).
    pub saved: Option<Vec<Subject>>,
}

impl<E: Engine> Applier<'_, '_, E> {
    fn lookup(&self, kind: IdentifierKind, value: &str) -> Result<Option<SubjectId>, StoreError> {
        self.guard.subject_by_identifier(kind, value)
    }

    fn lookup_name(&self, division: &str, name: &str) -> Result<Option<SubjectId>, StoreError> {
        self.guard.subject_by_name(division, name)
    }

    fn load(&self, id: SubjectId) -> Result<Option<Subject>, StoreError> {
        self.guard.pending_subject(id)
    }

    fn save_subject(&mut self, subject: &Subject, previous: Option<&Subject>) -> Result<(), StoreError> {
        self.guard.put_subject(subject, previous)?;
        if let Some(saved) = &mut self.saved {
            saved.push(subject.clone());
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
                    self.guard.info().source_dept.as_deref().unwrap_or("")
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
        match self.guard.put_record(subject, key, &input.content)? {
            RecordWrite::Unchanged(_) => summary.unchanged += 1,
            RecordWrite::Written { head, before } => {
                match head.versions {
                    1 => summary.new_records += 1,
                    _ => summary.new_versions += 1,
                }
                let change =
                    crate::feed::record_change(subject, head.id, head.versions, before.as_deref(), &input.content);
                self.guard.emit(change)?;
            }
        }
        Ok(())
    }
}
