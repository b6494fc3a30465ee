//! What reaches each subject's joint checks ([`Reach`]), kept ready in `current` beside the subject:
//! its own list entries and those of the subjects linked to it by a related-person role, with their
//! names. A check reads the subject and its reach in one batched read of two neighbouring keys.
//!
//! A batch notes what it changed that a reach depends on (a list entry, the name or codes of a subject,
//! a link) and, before it commits, rebuilds the reach of every subject that change can reach, from the
//! store as the batch left it, in the same batch: so reaches are never behind their batch, and roll
//! back with it.

use std::collections::BTreeSet;
use std::rc::Rc;

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
        Reader::new(&EngineSource(&self.engine), &|_| false).build(id)
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
        let without_entries = |id: SubjectId| new(id) && !changes.entries.contains(&id);
        let mut stale = BTreeSet::new();
        {
            let source = WriterSource(&self.writer);
            let mut reader = Reader::new(&source, &without_entries);
            let changed: Vec<SubjectId> = changes.entries.iter().copied().collect();
            for slice in changed.chunks(READER_SUBJECTS) {
                reader.read_subjects(slice)?;
                for &subject in slice {
                    stale.insert(subject);
                    stale.extend(reader.links(subject)?.into_iter().map(|(id, _)| id));
                }
            }
            for &subject in &changes.renamed {
                if reader.has_entries(subject)? {
                    stale.extend(reader.links(subject)?.into_iter().map(|(id, _)| id));
                }
            }
            for &(organisation, person) in &changes.links {
                if new(organisation) && new(person) {
                    // Neither had entries before the batch; any it wrote put both in `stale` above.
                    continue;
                }
                if reader.has_entries(person)? {
                    stale.insert(organisation);
                }
                if reader.has_entries(organisation)? {
                    stale.insert(person);
                }
            }
        }
        // Built a slice at a time, so memory stays bounded however many reaches a batch changes;
        // writing reaches changes nothing a reach is built from.
        let stale: Vec<SubjectId> = stale.into_iter().collect();
        for slice in stale.chunks(READER_SUBJECTS) {
            let pages = {
                let source = WriterSource(&self.writer);
                let mut reader = Reader::new(&source, &without_entries);
                reader.read_around(slice)?;
                slice
                    .iter()
                    .map(|&subject| Ok((subject, reader.build(subject)?)))
                    .collect::<Result<Vec<_>, StoreError>>()?
            };
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
        }
        Ok(())
    }
}

/// Reaches built per slice.
const READER_SUBJECTS: usize = 20_000;

/// Subjects (and entry lists) a [`Reader`] remembers before it starts over: room for a slice and
/// the subjects linked to it.
const READER_MEMO: usize = 8 * READER_SUBJECTS;

/// What a reach is built from, each subject read once: its name and links, and its list entries.
pub(super) struct Reader<'a> {
    source: &'a dyn Source,
    /// Subjects known to have no list entries (made by the running batch, which wrote none of theirs).
    without_entries: &'a dyn Fn(SubjectId) -> bool,
    subjects: foldhash::HashMap<SubjectId, Option<Facts>>,
    entries: foldhash::HashMap<SubjectId, Rc<Vec<ListEntryIndex>>>,
}

/// What a reach needs of a subject.
struct Facts {
    named: NamedSubject,
    /// An organisation's links come with it; a person's are read from the related-person index when
    /// first needed.
    links: Option<Vec<(SubjectId, Link)>>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(source: &'a dyn Source, without_entries: &'a dyn Fn(SubjectId) -> bool) -> Reader<'a> {
        Reader { source, without_entries, subjects: Default::default(), entries: Default::default() }
    }

    fn facts(&mut self, id: SubjectId) -> Result<Option<&mut Facts>, StoreError> {
        if !self.subjects.contains_key(&id) {
            self.read_subjects(&[id])?;
        }
        Ok(self.subjects.get_mut(&id).and_then(Option::as_mut))
    }

    /// Reads the subjects among `ids` not read yet, in one batched read (sorted, so neighbouring keys
    /// share their blocks); starts over first when the memo is full.
    pub(super) fn read_subjects(&mut self, ids: &[SubjectId]) -> Result<(), StoreError> {
        if self.subjects.len() + ids.len() > READER_MEMO || self.entries.len() > READER_MEMO {
            self.subjects.clear();
            self.entries.clear();
        }
        let mut wanted: Vec<SubjectId> = ids.iter().copied().filter(|id| !self.subjects.contains_key(id)).collect();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(());
        }
        let keys: Vec<Vec<u8>> = wanted.iter().map(|id| keys::subject(*id)).collect();
        for (id, value) in wanted.into_iter().zip(self.source.multi_get(Cf::Current, &keys)?) {
            let subject = match value {
                Some(bytes) => Some(from_stored::<Subject>(&bytes)?),
                // A store that kept the subject only in `subjects`.
                None => self.source.get(Cf::Subjects, &keys::subject(id))?.map(|b| from_json(&b)).transpose()?,
            };
            let facts = subject.map(|subject| Facts {
                named: NamedSubject::of(&subject),
                links: (subject.subject_type != SubjectType::NaturalPerson).then(|| {
                    subject.linked_persons().map(|(person, role)| (person, Link::RelatedPerson { role })).collect()
                }),
            });
            self.subjects.insert(id, facts);
        }
        Ok(())
    }

    /// Reads, batched, the subjects of `ids` and of everyone linked to them, as [`Reader::build`] of
    /// each will need them.
    pub(super) fn read_around(&mut self, ids: &[SubjectId]) -> Result<(), StoreError> {
        self.read_subjects(ids)?;
        let mut linked = Vec::new();
        for id in ids {
            linked.extend(self.links(*id)?.into_iter().map(|(member, _)| member));
        }
        self.read_subjects(&linked)
    }

    /// The subjects linked to `id`, in the order a check considers them: an organisation's related
    /// persons as it names them (those linked to a subject of the platform), a person's organisations
    /// by id and role. None when there is no such subject.
    pub(super) fn links(&mut self, id: SubjectId) -> Result<Vec<(SubjectId, Link)>, StoreError> {
        let source = self.source;
        let Some(facts) = self.facts(id)? else {
            return Ok(Vec::new());
        };
        if let Some(links) = &facts.links {
            return Ok(links.clone());
        }
        let mut links = Vec::new();
        source.scan_prefix(Cf::Related, &keys::subject(id), &mut |key, _| {
            links.extend(
                keys::related_organisation(key).map(|(organisation, role)| (organisation, Link::Organisation { role })),
            );
            true
        })?;
        facts.links = Some(links.clone());
        Ok(links)
    }

    fn entries(&mut self, id: SubjectId) -> Result<Rc<Vec<ListEntryIndex>>, StoreError> {
        if (self.without_entries)(id) {
            return Ok(Rc::default());
        }
        if let Some(entries) = self.entries.get(&id) {
            return Ok(entries.clone());
        }
        let mut entries = Vec::new();
        let mut failed = None;
        self.source.scan_prefix(Cf::ListEntries, &keys::subject(id), &mut |_, value| match from_json(value) {
            Ok(entry) => {
                entries.push(entry);
                true
            }
            Err(e) => {
                failed = Some(e);
                false
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        let entries = Rc::new(entries);
        self.entries.insert(id, entries.clone());
        Ok(entries)
    }

    pub(super) fn has_entries(&mut self, id: SubjectId) -> Result<bool, StoreError> {
        Ok(!self.entries(id)?.is_empty())
    }

    /// The reach of `id` (`None`: nothing reaches it, or no such subject).
    pub(super) fn build(&mut self, id: SubjectId) -> Result<Option<Reach>, StoreError> {
        if self.facts(id)?.is_none() {
            return Ok(None);
        }
        let mut groups = Vec::new();
        for (member, link) in std::iter::once((id, Link::Listed)).chain(self.links(id)?) {
            let entries = self.entries(member)?;
            if entries.is_empty() {
                continue;
            }
            let listed = match link {
                Link::Listed => None,
                _ => match self.facts(member)? {
                    Some(facts) => Some(facts.named.clone()),
                    None => return Err(StoreError::Corrupt(format!("list entries of missing subject {member}"))),
                },
            };
            groups.push(ReachGroup { link, listed, entries: entries.as_ref().clone() });
        }
        Ok((!groups.is_empty()).then_some(Reach { groups }))
    }
}

/// Where reaches are built from: the store as a running batch left it, or the engine (migrations).
pub(super) trait Source {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    fn multi_get(&self, cf: Cf, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
    fn scan_prefix(&self, cf: Cf, prefix: &[u8], visit: &mut dyn FnMut(&[u8], &[u8]) -> bool)
    -> Result<(), StoreError>;
}

struct WriterSource<'w, 'e>(&'w BatchWriter<'e>);

impl Source for WriterSource<'_, '_> {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(cf, key)
    }

    fn multi_get(&self, cf: Cf, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.0.multi_get(cf, keys)
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

    fn multi_get(&self, cf: Cf, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        Ok(self.0.multi_get(cf, keys)?)
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
