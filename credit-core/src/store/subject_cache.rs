//! Decoded current subjects, kept in memory: decoding a subject costs more than finding it, and the
//! same subjects are looked up again and again (approval systems check the applicants of the day).
//!
//! Only import batches change current subjects, so the cache is emptied when a batch starts and when it
//! ends, and bypassed while one runs. A read that raced with the start of a batch may have decoded a
//! value that is about to change: it notices the changed generation and takes its entry out again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::model::{Subject, SubjectId};

/// A decoded subject and what it weighs (its stored size).
#[derive(Debug, Clone)]
struct Entry {
    subject: Arc<Subject>,
    bytes: u64,
}

#[derive(Debug, Clone)]
struct BySize;

impl Weighter<SubjectId, Entry> for BySize {
    fn weight(&self, _key: &SubjectId, entry: &Entry) -> u64 {
        // A decoded subject takes about twice its stored JSON in memory.
        entry.bytes.saturating_mul(2).max(1)
    }
}

/// Typical stored size of a subject, to size the table for `capacity_bytes`.
const TYPICAL_SUBJECT_BYTES: u64 = 800;

pub(super) struct SubjectCache {
    entries: Option<Cache<SubjectId, Entry, BySize>>,
    /// Changes whenever current subjects may have changed.
    generation: AtomicU64,
    batch_running: AtomicBool,
}

impl std::fmt::Debug for SubjectCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubjectCache").field("enabled", &self.entries.is_some()).finish_non_exhaustive()
    }
}

/// What a read should do after looking in the cache.
pub(super) enum Lookup {
    Hit(Arc<Subject>),
    /// Read the engine, then offer the value with [`SubjectCache::offer`] and this ticket.
    Miss(Ticket),
}

/// The generation a read started under; the value it read is cached only if that is still current.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket(Option<u64>);

impl SubjectCache {
    /// A cache holding about `capacity_bytes` of decoded subjects (0: no cache).
    pub(super) fn new(capacity_bytes: u64) -> SubjectCache {
        let entries = (capacity_bytes > 0).then(|| {
            let items = (capacity_bytes / (2 * TYPICAL_SUBJECT_BYTES)).max(16) as usize;
            Cache::with_weighter(items, capacity_bytes, BySize)
        });
        SubjectCache { entries, generation: AtomicU64::new(0), batch_running: AtomicBool::new(false) }
    }

    pub(super) fn lookup(&self, id: SubjectId) -> Lookup {
        let Some(entries) = &self.entries else {
            return Lookup::Miss(Ticket(None));
        };
        if self.batch_running.load(Ordering::SeqCst) {
            return Lookup::Miss(Ticket(None));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        match entries.get(&id) {
            Some(entry) => Lookup::Hit(entry.subject),
            None => Lookup::Miss(Ticket(Some(generation))),
        }
    }

    /// Caches what a read under `ticket` found, unless subjects may have changed since it started.
    pub(super) fn offer(&self, ticket: Ticket, subject: &Arc<Subject>, stored_bytes: usize) {
        let (Some(entries), Ticket(Some(generation))) = (&self.entries, ticket) else {
            return;
        };
        entries.insert(subject.id, Entry { subject: Arc::clone(subject), bytes: stored_bytes as u64 });
        // A batch that started meanwhile bumped the generation before writing; a batch that starts after
        // this check empties the cache itself.
        if self.generation.load(Ordering::SeqCst) != generation || self.batch_running.load(Ordering::SeqCst) {
            entries.remove(&subject.id);
        }
    }

    /// Called before a batch writes anything.
    pub(super) fn batch_started(&self) {
        self.batch_running.store(true, Ordering::SeqCst);
        self.invalidate();
    }

    /// Called after a batch has committed or been rolled back.
    pub(super) fn batch_ended(&self) {
        self.invalidate();
        self.batch_running.store(false, Ordering::SeqCst);
    }

    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(entries) = &self.entries {
            entries.clear();
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| e.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubjectType;

    fn subject(id: u64, name: &str) -> Arc<Subject> {
        Arc::new(Subject::provisional(SubjectId(id), SubjectType::Enterprise, name, Vec::new(), None))
    }

    fn hit(cache: &SubjectCache, id: u64) -> Option<String> {
        match cache.lookup(SubjectId(id)) {
            Lookup::Hit(s) => Some(s.name.clone()),
            Lookup::Miss(_) => None,
        }
    }

    #[test]
    fn a_read_is_served_from_the_cache_until_a_batch_starts() {
        let cache = SubjectCache::new(1 << 20);
        let Lookup::Miss(ticket) = cache.lookup(SubjectId(1)) else { panic!("empty cache hit") };
        cache.offer(ticket, &subject(1, "甲"), 100);
        assert_eq!(hit(&cache, 1).as_deref(), Some("甲"));
        cache.batch_started();
        assert_eq!(hit(&cache, 1), None, "emptied when a batch starts");
        let Lookup::Miss(ticket) = cache.lookup(SubjectId(1)) else { panic!("hit during a batch") };
        cache.offer(ticket, &subject(1, "甲"), 100);
        assert_eq!(hit(&cache, 1), None, "nothing is cached while a batch runs");
        cache.batch_ended();
        let Lookup::Miss(ticket) = cache.lookup(SubjectId(1)) else { panic!("hit after a batch") };
        cache.offer(ticket, &subject(1, "乙"), 100);
        assert_eq!(hit(&cache, 1).as_deref(), Some("乙"));
    }

    #[test]
    fn a_read_that_raced_with_a_batch_is_not_cached() {
        let cache = SubjectCache::new(1 << 20);
        let Lookup::Miss(ticket) = cache.lookup(SubjectId(7)) else { panic!("empty cache hit") };
        // The read decodes the old value while a batch starts and ends (it rewrote subject 7).
        cache.batch_started();
        cache.batch_ended();
        cache.offer(ticket, &subject(7, "旧"), 100);
        assert_eq!(hit(&cache, 7), None);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn capacity_zero_disables_the_cache() {
        let cache = SubjectCache::new(0);
        let Lookup::Miss(ticket) = cache.lookup(SubjectId(1)) else { panic!("hit") };
        cache.offer(ticket, &subject(1, "甲"), 100);
        assert_eq!(hit(&cache, 1), None);
    }
}
