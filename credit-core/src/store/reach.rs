//! What reaches each subject's joint checks ([`Reach`]), kept ready in `current` beside the subject:
//! its own list entries and those of the subjects linked to it by a related-person role, with their
//! names. A check reads the subject and its reach in one batched read of two neighbouring keys.
//!
//! A batch notes what it changed that a reach depends on (a list entry, the name or codes of a subject,
//! a link) and, before it commits, rebuilds the reach of every subject that change can reach, from the
//! store as the batch left it, in the same batch: so reaches are never behind their batch, and roll
//! back with it.

use std::collections::BTreeSet;

use super::journal::BatchWriter;
use super::{BatchGuard, Store, StoreError, from_json, from_stored, keys, to_msgpack};
use crate::engine::{Cf, Engine};
use crate::model::{Link, ListEntryIndex, NamedSubject, Reach, ReachGroup, Subject, SubjectId, SubjectType};

/// A subject ready for a check: the subject and what reaches it.
#[derive(Debug)]
pub struct CheckPage {
    pub subject: Subject,
    pub reach: Reach,
}

impl<E: Engine> Store<E> {
    /// What a check needs of a subject, from one batched read of its two neighbouring keys in the
    /// `current` family (cheaper than a seek, which positions an iterator on every level). `None`: no
    /// such subject.
    pub fn check_page(&self, id: SubjectId) -> Result<Option<CheckPage>, StoreError> {
        let mut values = self.engine.multi_get(Cf::Current, &[keys::subject(id), keys::reach(id)])?.into_iter();
        let (Some(Some(subject)), Some(reach)) = (values.next(), values.next()) else {
            return Ok(None);
        };
        Ok(Some(CheckPage {
            subject: from_stored(&subject)?,
            reach: reach.map(|bytes| from_stored(&bytes)).transpose()?.unwrap_or_default(),
        }))
    }

    /// The subject's reach as stored (`None`: nothing reaches it).
    pub fn reach(&self, id: SubjectId) -> Result<Option<Reach>, StoreError> {
        self.engine.get(Cf::Current, &keys::reach(id))?.map(|bytes| from_stored(&bytes)).transpose()
    }

    /// The subject's reach as built from its list entries and links now (`None`: nothing reaches it),
    /// for verifying the stored one.
    pub fn reach_rebuilt(&self, id: SubjectId) -> Result<Option<Reach>, StoreError> {
        let reach = build(&EngineSource(&self.engine), id, &|_| false)?;
        Ok(reach.filter(|r| !r.groups.is_empty()))
    }
}

/// What a batch changed that reaches depend on, noted by the writers of subjects and records.
#[derive(Debug, Default)]
pub(super) struct ReachChanges {
    /// Subjects whose list entries the batch wrote.
    entries: foldhash::HashSet<SubjectId>,
    /// Subjects whose name, codes, type or division the batch changed ([`NamedSubject`]).
    renamed: foldhash::HashSet<SubjectId>,
    /// Links the batch added or removed: (organisation, person).
    links: Vec<(SubjectId, SubjectId)>,
}

impl ReachChanges {
    pub(super) fn entry_written(&mut self, subject: SubjectId) {
        self.entries.insert(subject);
    }

    pub(super) fn subject_written(&mut self, subject: &Subject, previous: Option<&Subject>) {
        if previous.is_some_and(|p| NamedSubject::of(p) != NamedSubject::of(subject)) {
            self.renamed.insert(subject.id);
        }
    }

    pub(super) fn link_changed(&mut self, organisation: SubjectId, person: SubjectId) {
        self.links.push((organisation, person));
    }
}

impl<E: Engine> BatchGuard<'_, E> {
    /// Rebuilds the reach of every subject the batch's changes can reach (called before it commits).
    ///
    /// A reach depends on the subject's links, and on the list entries and names of the subjects at
    /// their other ends. So it is rebuilt for: a subject whose entries changed, and everyone linked to
    /// it; everyone linked to a renamed subject with entries; both ends of a changed link, each where the
    /// other end has entries (the reach gains or loses that end's entries). Subjects the batch made have
    /// no entries but those it wrote, so links between them cost no read.
    pub(super) fn rebuild_reaches(&mut self) -> Result<(), StoreError> {
        let changes = std::mem::take(&mut self.reach_changes);
        if changes.entries.is_empty() && changes.renamed.is_empty() && changes.links.is_empty() {
            return Ok(());
        }
        let first_new = self.first_subject;
        let new = |id: SubjectId| id.0 >= first_new;
        let source = WriterSource(&self.writer);
        let without_entries = |id: SubjectId| new(id) && !changes.entries.contains(&id);
        let has_entries = |id: SubjectId| -> Result<bool, StoreError> {
            if without_entries(id) {
                return Ok(false);
            }
            let mut any = false;
            source.scan_prefix(Cf::ListEntries, &keys::subject(id), &mut |_, _| {
                any = true;
                false
            })?;
            Ok(any)
        };
        let mut stale = BTreeSet::new();
        for &subject in &changes.entries {
            stale.insert(subject);
            stale.extend(linked_ids(&source, subject)?);
        }
        for &subject in &changes.renamed {
            if has_entries(subject)? {
                stale.extend(linked_ids(&source, subject)?);
            }
        }
        for &(organisation, person) in &changes.links {
            if new(organisation) && new(person) {
                // Neither had entries before the batch; any it wrote put both in `stale` above.
                continue;
            }
            if has_entries(person)? {
                stale.insert(organisation);
            }
            if has_entries(organisation)? {
                stale.insert(person);
            }
        }
        let mut pages = Vec::with_capacity(stale.len());
        for subject in stale {
            let reach = build(&source, subject, &without_entries)?.filter(|r| !r.groups.is_empty());
            pages.push((subject, reach));
        }
        for (subject, reach) in pages {
            let key = keys::reach(subject);
            match reach {
                Some(reach) => self.writer.put(Cf::Current, key, to_msgpack(&reach))?,
                // A subject made by this batch had no reach to remove.
                None if new(subject) => {}
                None => {
                    if self.writer.get(Cf::Current, &key)?.is_some() {
                        self.writer.delete(Cf::Current, key)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Where reaches are built from: the store as a running batch left it, or the engine (migrations).
pub(super) trait Source {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    fn scan_prefix(&self, cf: Cf, prefix: &[u8], visit: &mut dyn FnMut(&[u8], &[u8]) -> bool)
    -> Result<(), StoreError>;
}

struct WriterSource<'w, 'e>(&'w BatchWriter<'e>);

impl Source for WriterSource<'_, '_> {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(cf, key)
    }

    fn scan_prefix(
        &self,
        cf: Cf,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        self.0.scan_prefix(cf, prefix, visit)
    }
}

pub(super) struct EngineSource<'e>(pub(super) &'e dyn Engine);

impl Source for EngineSource<'_> {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(cf, key)?)
    }

    fn scan_prefix(
        &self,
        cf: Cf,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        Ok(self.0.scan_prefix(cf, prefix, visit)?)
    }
}

/// The current subject (from `current`, or from `subjects` where a store kept it only there).
fn subject_of(source: &dyn Source, id: SubjectId) -> Result<Option<Subject>, StoreError> {
    if let Some(bytes) = source.get(Cf::Current, &keys::subject(id))? {
        return Ok(Some(from_stored(&bytes)?));
    }
    source.get(Cf::Subjects, &keys::subject(id))?.map(|bytes| from_json(&bytes)).transpose()
}

/// The subjects linked to `subject`, in the order a check considers them:
/// an organisation's related persons as it names them (those linked to a subject of the platform),
/// a person's organisations by id and role.
fn links_of(source: &dyn Source, subject: &Subject) -> Result<Vec<(SubjectId, Link)>, StoreError> {
    if subject.subject_type != SubjectType::NaturalPerson {
        return Ok(subject
            .related
            .iter()
            .filter_map(|r| Some((r.subject?, Link::RelatedPerson { role: r.role })))
            .collect());
    }
    let mut out = Vec::new();
    source.scan_prefix(Cf::Related, &keys::subject(subject.id), &mut |key, _| {
        if let (Some(organisation), Some(role)) =
            (keys::u64_at(key, 8), key.get(16).and_then(|c| keys::role_of_code(*c)))
        {
            out.push((SubjectId(organisation), Link::Organisation { role }));
        }
        true
    })?;
    Ok(out)
}

/// The subjects linked to `id` (none when there is no such subject).
pub(super) fn linked_ids(source: &dyn Source, id: SubjectId) -> Result<Vec<SubjectId>, StoreError> {
    match subject_of(source, id)? {
        Some(subject) => Ok(links_of(source, &subject)?.into_iter().map(|(id, _)| id).collect()),
        None => Ok(Vec::new()),
    }
}

fn entries_of(source: &dyn Source, id: SubjectId) -> Result<Vec<ListEntryIndex>, StoreError> {
    let mut entries = Vec::new();
    let mut failed = None;
    source.scan_prefix(Cf::ListEntries, &keys::subject(id), &mut |_, value| match from_json(value) {
        Ok(entry) => {
            entries.push(entry);
            true
        }
        Err(e) => {
            failed = Some(e);
            false
        }
    })?;
    failed.map_or(Ok(entries), Err)
}

/// The reach of `id` as `source` has it (`None`: no such subject); subjects for which
/// `without_entries` is true are known to have no list entries and are not read.
pub(super) fn build(
    source: &dyn Source,
    id: SubjectId,
    without_entries: &dyn Fn(SubjectId) -> bool,
) -> Result<Option<Reach>, StoreError> {
    let Some(subject) = subject_of(source, id)? else {
        return Ok(None);
    };
    let mut groups = Vec::new();
    for (member, link) in std::iter::once((id, Link::Listed)).chain(links_of(source, &subject)?) {
        if without_entries(member) {
            continue;
        }
        let entries = entries_of(source, member)?;
        if entries.is_empty() {
            continue;
        }
        let listed = match link {
            Link::Listed => None,
            _ => match subject_of(source, member)? {
                Some(listed) => Some(NamedSubject::of(&listed)),
                None => return Err(StoreError::Corrupt(format!("list entries of missing subject {member}"))),
            },
        };
        groups.push(ReachGroup { link, listed, entries });
    }
    Ok(Some(Reach { groups }))
}
