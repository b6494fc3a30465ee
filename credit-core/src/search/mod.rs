//! Full-text search over subjects and their records (tantivy), for people who type partial names,
//! traditional characters, pinyin, full-width digits, code prefixes or document numbers.
//!
//! The index follows the store: each commit records the last store batch it contains, and
//! [`SearchIndex::catch_up`] indexes the subjects every later committed batch changed (the store's change
//! log), so a crash between a store write and the index heals on the next open. Hits are joined with the
//! store: a subject the store no longer has is never returned, and what a hit shows is current.

mod analysis;
mod document;
mod normalize;
mod query;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::columnar::ColumnValues;
use tantivy::index::SegmentId;
use tantivy::{DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentReader, Term};

pub use normalize::{code_key, core_name, normalize};
pub use query::{Filters, MAX_PARTS, Part, parts};
use query::{Order, Verify};

use crate::engine::Engine;
use crate::model::{BatchId, IdentifierKind, RecordCategory, Subject, SubjectId, SubjectType};
use crate::privacy::{mask_id_number, mask_name};
use crate::store::{Store, StoreError, decode_subject};
use crate::view::View;
use analysis::WordCache;
use document::{Fields, IndexedRecord};

/// Bumped when the index layout changes: an index of another version is rebuilt.
const INDEX_VERSION: u32 = 4;
/// Memory for the tantivy writer (split between its threads).
const WRITER_MEMORY: usize = 512 << 20;
/// Largest page of hits.
pub const MAX_LIMIT: usize = 1_000;
/// Longest query, in characters after normalisation: names, codes and document numbers are far shorter,
/// and every step of analysis is linear in it, so this bounds the work one query can ask for.
pub const MAX_QUERY_CHARS: usize = 200;
/// Deepest position a page may start after: paging further asks the index to rank this many hits
/// again for every page (narrow the query or add filters instead).
pub const MAX_POSITION: u64 = 10_000;
/// Most hits ranked for one page, however many the join with the store drops.
const MAX_FETCH: usize = 50_000;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index files: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid cursor: {0}")]
    BadCursor(String),
    #[error("invalid filter {field}: {reason}")]
    BadFilter { field: &'static str, reason: String },
    #[error("the query has {chars} characters after normalisation; at most {max} are searched")]
    QueryTooLong { chars: usize, max: usize },
    #[error(transparent)]
    Cancelled(#[from] crate::cancel::Cancelled),
}

impl SearchError {
    /// The caller's fault (returned as is) rather than ours (logged).
    pub fn is_user_error(&self) -> bool {
        matches!(self, SearchError::BadCursor(_) | SearchError::BadFilter { .. } | SearchError::QueryTooLong { .. })
    }
}

/// What the index's last commit contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Payload {
    version: u32,
    /// The last store batch whose changes are indexed (none: the store had no committed batch).
    last_batch: Option<u64>,
}

/// What a catch-up did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CatchUp {
    /// A full build from the subjects family (new or outdated index).
    pub rebuilt: bool,
    pub subjects_indexed: u64,
    pub subjects_removed: u64,
    pub last_batch: Option<u64>,
    /// Of `subjects_indexed`, those whose documents were built while their batch ran
    /// ([`SearchIndex::alongside`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub built_alongside: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One hit, joined with the store's current data, masked for display.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// The unified code, or the masked ID number of a natural person.
    pub code: Option<String>,
    pub name: String,
    #[serde(rename = "type")]
    pub subject_type: &'static str,
    pub score: f32,
    pub subject_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The name with the characters the query matched in `<em>…</em>`.
    pub highlight: String,
    /// Pass as `cursor` to get the hits after this one.
    pub cursor: String,
    /// Matches only some parts of the query ([`SearchResults::partial`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// A search: query text, filters, page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchRequest {
    pub query: String,
    pub filters: Filters,
    pub limit: usize,
    pub cursor: Option<String>,
    /// Who searches: the public never finds natural persons by name, only by their full ID number.
    pub view: View,
    /// The rules that decide which records the public view shows today: public searches match a
    /// record's document number, and pass a record filter, only through records the public sees.
    /// `None`: the compiled-in rules.
    pub disclosure: Option<std::sync::Arc<crate::disclosure::DisclosureRules>>,
    /// Raised when the answer is no longer wanted: the search stops at the next hit it would join.
    pub cancel: crate::cancel::Cancel,
}

/// The search index of one store, in its own directory.
pub struct SearchIndex {
    reader: IndexReader,
    writer: IndexWriter,
    fields: Fields,
    /// Keys the hash of ID numbers: the index never holds one in clear (nor a hash anyone could
    /// reverse by trying every date of birth without this key).
    id_key: [u8; 32],
    payload: Option<Payload>,
    dir: PathBuf,
    columns: Arc<SegmentColumns>,
}

/// The fast columns a search reads of a segment: subject ids (every search) and days of establishment
/// (generic queries), with the latest day.
struct Columns {
    ids: Option<Arc<dyn ColumnValues<u64>>>,
    established: Option<Arc<dyn ColumnValues<u64>>>,
    newest_established: u64,
}

/// A hit's place in the order of a segment's hits.
type DocKey = Box<dyn Fn(DocId, Score) -> (Score, Reverse<u64>)>;

/// The columns of each segment, opened once rather than by every query: opening one decodes the header
/// of each of its blocks, which was a fifth of the server's time under search load.
#[derive(Default)]
struct SegmentColumns {
    by_segment: RwLock<foldhash::HashMap<SegmentId, Arc<Columns>>>,
}

impl SegmentColumns {
    fn of(&self, segment: &SegmentReader) -> Arc<Columns> {
        let id = segment.segment_id();
        if let Some(columns) = self.by_segment.read().unwrap_or_else(PoisonError::into_inner).get(&id) {
            return columns.clone();
        }
        let open = |name: &str| segment.fast_fields().u64(name).ok();
        let established = open(document::ESTABLISHED);
        let columns = Arc::new(Columns {
            ids: open(document::ID).map(|c| c.first_or_default_col(0)),
            newest_established: established.as_ref().map_or(0, |c| c.max_value()),
            established: established.map(|c| c.first_or_default_col(0)),
        });
        self.by_segment.write().unwrap_or_else(PoisonError::into_inner).insert(id, columns.clone());
        columns
    }

    /// Follows `searcher`: forgets the segments it no longer has (merged or deleted) and opens the
    /// columns of those not opened yet, so the first query after an open or a commit does not pay for it.
    fn refresh(&self, searcher: &tantivy::Searcher) {
        let live: foldhash::HashSet<SegmentId> = searcher.segment_readers().iter().map(|s| s.segment_id()).collect();
        self.by_segment.write().unwrap_or_else(PoisonError::into_inner).retain(|id, _| live.contains(id));
        for segment in searcher.segment_readers() {
            self.of(segment);
        }
    }

    /// The latest day of establishment in the index, if any subject has one.
    fn newest_established(&self, searcher: &tantivy::Searcher) -> Option<u64> {
        searcher.segment_readers().iter().map(|s| self.of(s).newest_established).max().filter(|&days| days > 0)
    }

    /// The order of hits: (score, or the day of establishment for `newest`; then subject id, ascending).
    fn sort_key(self: &Arc<Self>, newest: bool) -> impl Fn(&SegmentReader) -> DocKey + Send + Sync + 'static {
        let this = self.clone();
        move |segment: &SegmentReader| {
            let columns = this.of(segment);
            Box::new(move |doc: DocId, score: Score| {
                let score = match (&columns.established, newest) {
                    (Some(days), true) => days.get_val(doc) as f32,
                    _ => score,
                };
                (score, Reverse(columns.ids.as_ref().map_or(0, |c| c.get_val(doc))))
            })
        }
    }
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").field("dir", &self.dir).field("payload", &self.payload).finish_non_exhaustive()
    }
}

/// Where a store's search index lives by default: beside the store's files, in its data directory.
pub fn default_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("search")
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it (empty, to be built by [`SearchIndex::catch_up`]) when missing
    /// or of another layout version.
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = document::schema();
        let open_dir = || tantivy::directory::MmapDirectory::open(dir).map_err(tantivy::TantivyError::from);
        let exists = Index::exists(&open_dir()?).map_err(tantivy::TantivyError::from)?;
        let existing = if exists { Some(Index::open(open_dir()?)?) } else { None };
        let current = match &existing {
            Some(index) => read_payload(index)?.is_none_or(|p| p.version == INDEX_VERSION) && index.schema() == schema,
            None => false,
        };
        // An index kept as it is needs the key its hashes were made with; one built anew may get a new key.
        let id_key = id_key(dir, current)?;
        let (index, payload) = match existing {
            Some(index) => {
                let payload = read_payload(&index)?;
                if current {
                    (index, payload)
                } else {
                    // Another layout: built again from the store by the first catch-up.
                    drop(index);
                    clear_index_files(dir)?;
                    (Index::create(open_dir()?, schema, tantivy::IndexSettings::default())?, None)
                }
            }
            None => (Index::create(open_dir()?, schema, tantivy::IndexSettings::default())?, None),
        };
        analysis::register(&index)?;
        analysis::warm_up();
        let writer = index.writer_with_num_threads(2, WRITER_MEMORY)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let columns = Arc::<SegmentColumns>::default();
        columns.refresh(&reader.searcher());
        Ok(SearchIndex { reader, writer, fields, id_key, payload, dir: dir.to_path_buf(), columns })
    }

    /// Brings the index up to the store: a full build when it has never been built, otherwise the
    /// subjects changed by every committed batch since its last commit.
    pub fn catch_up<E: Engine>(&mut self, store: &Store<E>) -> Result<CatchUp, SearchError> {
        self.catch_up_after(store, None)
    }

    /// [`SearchIndex::catch_up`], where the documents of `built`'s subjects as batch `built.0` left
    /// them are in the writer already.
    fn catch_up_after<E: Engine>(
        &mut self,
        store: &Store<E>,
        built: Option<(BatchId, &foldhash::HashSet<SubjectId>)>,
    ) -> Result<CatchUp, SearchError> {
        let today = crate::time::today_cst();
        let Some(payload) = self.payload else {
            return self.rebuild(store);
        };
        let (changed, last) = store.changes_by_batch_after(payload.last_batch.map(BatchId))?;
        let Some(last) = last else {
            return Ok(CatchUp { last_batch: payload.last_batch, ..CatchUp::default() });
        };
        let mut outcome = CatchUp { last_batch: Some(last.0), ..CatchUp::default() };
        let mut seen = foldhash::HashSet::default();
        let mut cache = WordCache::default();
        if let Some((batch, built)) = built {
            // Indexed as that batch left them, unless a later batch changed them again.
            let later: foldhash::HashSet<SubjectId> =
                changed.iter().filter(|(b, _)| *b > batch).map(|(_, s)| *s).collect();
            seen.extend(built.iter().filter(|s| !later.contains(s)));
            outcome.built_alongside = seen.len() as u64;
            outcome.subjects_indexed += seen.len() as u64;
        }
        for (_, id) in changed {
            if !seen.insert(id) {
                continue;
            }
            self.writer.delete_term(Term::from_field_u64(self.fields.id, id.0));
            match store.subject(id)? {
                Some(subject) => {
                    self.add(store, std::slice::from_ref(&subject), today, &mut cache)?;
                    outcome.subjects_indexed += 1;
                }
                None => outcome.subjects_removed += 1,
            }
        }
        self.commit(Some(last))?;
        Ok(outcome)
    }

    /// Runs a batch (`run`) while this index builds the documents of the subjects it writes, on a
    /// thread of its own: the batch hands them over through the function it is given, as it writes
    /// them. When the batch committed (`committed` names it) right after what the index holds, the
    /// index commits those documents with the rest of the batch's changes; otherwise they are dropped
    /// and the index catches up as usual. Import and index build as one pass over the rows.
    ///
    /// Only for batches whose subjects' documents do not depend on other writes of the same batch
    /// (a registration file: subjects and the persons they name, no records).
    pub fn alongside<E: Engine, T>(
        &mut self,
        store: &Store<E>,
        run: impl FnOnce(Option<&mut dyn FnMut(Vec<Subject>)>) -> T,
        committed: impl FnOnce(&T) -> Option<BatchId>,
    ) -> Result<(T, CatchUp), SearchError> {
        let prev = self.payload.and_then(|p| p.last_batch).map(BatchId);
        if self.payload.is_none() && store.last_committed_batch()?.is_some() {
            // The store's other subjects are not indexed yet: a full build follows anyway, so the
            // batch need not hand its subjects over.
            let outcome = run(None);
            return Ok((outcome, self.catch_up(store)?));
        }
        if self.payload.is_none() {
            self.writer.delete_all_documents()?;
        }
        let today = crate::time::today_cst();
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<Subject>>(8);
        let this = &*self;
        let (outcome, built) = std::thread::scope(|scope| {
            let builder = scope.spawn(move || -> Result<foldhash::HashSet<SubjectId>, SearchError> {
                let mut built = foldhash::HashSet::default();
                let mut cache = WordCache::default();
                for mut subjects in receiver {
                    // The last version of each subject in the chunk, in id order.
                    subjects.reverse();
                    let mut once = foldhash::HashSet::default();
                    subjects.retain(|s| once.insert(s.id));
                    subjects.sort_by_key(|s| s.id);
                    for subject in &subjects {
                        this.writer.delete_term(Term::from_field_u64(this.fields.id, subject.id.0));
                    }
                    this.add(store, &subjects, today, &mut cache)?;
                    built.extend(subjects.iter().map(|s| s.id));
                }
                Ok(built)
            });
            let outcome = run(Some(&mut |subjects| {
                // A builder that failed has gone; the catch-up below indexes the batch instead.
                let _ = sender.send(subjects);
            }));
            drop(sender);
            let built = builder.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (outcome, built)
        });
        let caught = match (built, committed(&outcome)) {
            (Ok(built), Some(batch)) if self.only_batch_since(store, prev, batch)? => {
                // A new index holds nothing yet, and the batch's documents: no full build follows.
                self.payload.get_or_insert(Payload { version: INDEX_VERSION, last_batch: None });
                self.catch_up_after(store, Some((batch, &built)))?
            }
            (built, _) => {
                if let Err(error) = built {
                    tracing::warn!(%error, "building documents alongside the batch failed; catching up instead");
                }
                self.writer.rollback()?;
                self.catch_up(store)?
            }
        };
        Ok((outcome, caught))
    }

    /// Whether `batch` is the only batch committed after `prev` and up to it (those in between rolled
    /// back), so the index's documents plus `batch`'s are the store as of `batch`.
    fn only_batch_since<E: Engine>(
        &self,
        store: &Store<E>,
        prev: Option<BatchId>,
        batch: BatchId,
    ) -> Result<bool, SearchError> {
        let first = prev.map_or(1, |p| p.0 + 1);
        if batch.0 < first {
            return Ok(false);
        }
        for id in first..batch.0 {
            if store.batch(BatchId(id))?.is_some_and(|b| b.status == crate::store::BatchStatus::Committed) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Builds the index again from every subject of the store (`credit-server reindex`).
    pub fn rebuild<E: Engine>(&mut self, store: &Store<E>) -> Result<CatchUp, SearchError> {
        let today = crate::time::today_cst();
        // The batch is read first: a batch committing during the scan is then caught up next time.
        let last = store.last_committed_batch()?;
        self.writer.delete_all_documents()?;
        // Merging while every segment is new re-writes the same terms again and again: the build
        // leaves its segments as they are (each as large as the writer's memory allows).
        self.writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        let indexed = self.add_all(store, today);
        self.writer.set_merge_policy(Box::new(tantivy::indexer::LogMergePolicy::default()));
        let indexed = indexed?;
        self.commit(last)?;
        Ok(CatchUp { rebuilt: true, subjects_indexed: indexed, last_batch: last.map(|b| b.0), ..CatchUp::default() })
    }

    /// Adds a document for every subject of the store. Reading records and building documents
    /// (script conversion, pinyin, words) costs several times what scanning subjects does, so this
    /// thread scans and hands chunks of stored subjects to builder threads, which add their documents
    /// to the writer (tantivy's writer takes documents from any thread).
    fn add_all<E: Engine>(&self, store: &Store<E>, today: NaiveDate) -> Result<u64, SearchError> {
        const BUILDERS: usize = 2;
        const CHUNK: usize = 256;
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(BUILDERS * 4);
        let receiver = Mutex::new(receiver);
        let failed: Mutex<Option<SearchError>> = Mutex::new(None);
        let stop = AtomicBool::new(false);
        let indexed = AtomicU64::new(0);
        let scanned = std::thread::scope(|scope| {
            for _ in 0..BUILDERS {
                scope.spawn(|| {
                    let mut cache = WordCache::default();
                    loop {
                        let next = receiver.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok(chunk) = next else { return };
                        if let Err(error) = self.add_chunk(store, &chunk, today, &mut cache) {
                            failed.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(error);
                            stop.store(true, Ordering::Relaxed);
                            return;
                        }
                        indexed.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    }
                });
            }
            let mut chunk = Vec::with_capacity(CHUNK);
            let scanned = store.scan_subject_bytes(&mut |bytes| {
                chunk.push(bytes.to_vec());
                if chunk.len() == CHUNK
                    && sender.send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))).is_err()
                {
                    return false;
                }
                !stop.load(Ordering::Relaxed)
            });
            if !chunk.is_empty() {
                let _ = sender.send(chunk);
            }
            drop(sender);
            scanned
        });
        if let Some(error) = failed.into_inner().unwrap_or_else(PoisonError::into_inner) {
            return Err(error);
        }
        scanned?;
        Ok(indexed.into_inner())
    }

    /// Documents for stored subjects in key (id) order, their records read together.
    fn add_chunk<E: Engine>(
        &self,
        store: &Store<E>,
        chunk: &[Vec<u8>],
        today: NaiveDate,
        cache: &mut WordCache,
    ) -> Result<(), SearchError> {
        let subjects = chunk.iter().map(|bytes| decode_subject(bytes)).collect::<Result<Vec<_>, _>>()?;
        self.add(store, &subjects, today, cache)
    }

    /// Documents for `subjects` (ascending ids), from their current records as stored.
    fn add<E: Engine>(
        &self,
        store: &Store<E>,
        subjects: &[Subject],
        today: NaiveDate,
        cache: &mut WordCache,
    ) -> Result<(), SearchError> {
        let ids: Vec<SubjectId> = subjects.iter().map(|s| s.id).collect();
        let records = store.current_record_json_of_many(&ids)?;
        for (subject, records) in subjects.iter().zip(&records) {
            let records = records
                .iter()
                .map(|(_, head, json)| IndexedRecord::from_json(head.category, json, today))
                .collect::<Result<Vec<_>, _>>()?;
            self.writer.add_document(document::build(&self.fields, subject, &records, &self.id_key, cache))?;
        }
        Ok(())
    }

    fn commit(&mut self, last: Option<BatchId>) -> Result<(), SearchError> {
        let payload = Payload { version: INDEX_VERSION, last_batch: last.map(|b| b.0) };
        let mut commit = self.writer.prepare_commit()?;
        commit.set_payload(&serde_json::to_string(&payload).expect("payload serialises"));
        commit.commit()?;
        self.reader.reload()?;
        self.columns.refresh(&self.reader.searcher());
        self.payload = Some(payload);
        Ok(())
    }

    /// Number of subjects in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hits best first, joined with the store (current data; subjects it no longer has are dropped).
    pub fn search<E: Engine>(&self, store: &Store<E>, request: &SearchRequest) -> Result<Vec<SearchHit>, SearchError> {
        Ok(self.search_results(store, request)?.hits)
    }

    /// [`SearchIndex::search`], with how the hits matched and, when there are none, names to try.
    ///
    /// The work is bounded whatever the request: the query is at most [`MAX_QUERY_CHARS`] characters, a
    /// cursor is accepted only from this index for this very query and filters (it carries a keyed hash
    /// of both) and at most [`MAX_POSITION`] hits deep, and at most `MAX_FETCH` hits are ranked.
    pub fn search_results<E: Engine>(
        &self,
        store: &Store<E>,
        request: &SearchRequest,
    ) -> Result<SearchResults, SearchError> {
        let limit = request.limit.clamp(1, MAX_LIMIT);
        let normalized = normalize(&request.query);
        let chars = normalized.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(SearchError::QueryTooLong { chars, max: MAX_QUERY_CHARS });
        }
        let binding = CursorBinding::new(&self.id_key, &normalized, request);
        let after = request.cursor.as_deref().map(|text| Cursor::decode(text, &binding)).transpose()?;
        let searcher = self.reader.searcher();
        let stages = query::build(
            &searcher,
            self.columns.newest_established(&searcher),
            &self.fields,
            &normalized,
            &request.filters,
            request.view,
            &self.id_key,
        )?;
        // Fetch enough to skip what earlier pages showed; more when the join drops hits.
        let mut fetch = after.map_or(0, |c| c.position as usize) + limit + 8;
        let today = crate::time::today_cst();
        let mut stages = stages.into_iter();
        let Some(mut stage) = stages.next() else {
            return Ok(SearchResults::default());
        };
        let public = PublicRecords::new(request);
        loop {
            // Best first (or newest first), equal scores in subject order: the same order whatever the
            // page size, so cursors are stable. Subject ids come from the fast field: no stored document
            // is read.
            let newest = stage.order == Order::Newest;
            let collector = TopDocs::with_limit(fetch).tweak_score(self.columns.sort_key(newest));
            request.cancel.check()?;
            let top = searcher.search(&stage.query, &collector)?;
            if (top.is_empty() || (stage.window && top.len() < fetch))
                && let Some(next) = stages.next()
            {
                // Nothing at all at this stage (whatever the page), or a window of recent subjects that
                // does not fill it: the next one answers.
                stage = next;
                continue;
            }
            let exhausted = top.len() < fetch || fetch >= MAX_FETCH;
            let mut hits = Vec::new();
            for (position, ((score, Reverse(id)), _)) in top.into_iter().enumerate() {
                if after.is_some_and(|c| !c.is_before(score, id)) {
                    continue;
                }
                request.cancel.check()?;
                let Some(subject) = self.visible_subject(store, request, public.as_ref(), &stage.verify, id, today)?
                else {
                    continue;
                };
                let position = position as u64 + 1;
                // Past the deepest position a page may start after, a hit gets no cursor: paging ends there.
                let cursor = if position <= MAX_POSITION {
                    Cursor { score, id, position }.encode(&binding)
                } else {
                    String::new()
                };
                hits.push(hit(&subject, score, &normalized, request.view, cursor, stage.partial));
                if hits.len() == limit {
                    break;
                }
            }
            if hits.len() == limit || exhausted {
                let did_you_mean = if hits.is_empty() && after.is_none() {
                    self.did_you_mean(store, &searcher, &normalized, request, public.as_ref(), today)?
                } else {
                    Vec::new()
                };
                return Ok(SearchResults { hits, partial: stage.partial, did_you_mean });
            }
            fetch = (fetch * 4).min(MAX_FETCH);
        }
    }

    /// The subject `id` as the request may see it: in the store, public where the view is, passing the
    /// filters the index cannot be sure of and showing the records the stage matched.
    fn visible_subject<E: Engine>(
        &self,
        store: &Store<E>,
        request: &SearchRequest,
        public: Option<&PublicRecords<'_>>,
        verify: &Verify,
        id: u64,
        today: NaiveDate,
    ) -> Result<Option<Arc<Subject>>, SearchError> {
        let Some(subject) = store.subject_shared(SubjectId(id))? else {
            return Ok(None);
        };
        if request.view == View::Public && !crate::view::is_public(&subject) {
            return Ok(None);
        }
        if !request.filters.still_holds(store, &subject, today)? {
            return Ok(None);
        }
        if let Some(public) = public
            && !public.shows(store, &subject, verify, today)?
        {
            return Ok(None);
        }
        Ok(Some(subject))
    }

    /// Names to try when nothing matched: the names whose pinyin starts like the query's, within one
    /// letter's difference per five (at most two), the filters and view applied.
    fn did_you_mean<E: Engine>(
        &self,
        store: &Store<E>,
        searcher: &tantivy::Searcher,
        normalized: &str,
        request: &SearchRequest,
        public: Option<&PublicRecords<'_>>,
        today: NaiveDate,
    ) -> Result<Vec<String>, SearchError> {
        let Some(query) = query::suggestions(&self.fields, normalized, &request.filters, request.view)? else {
            return Ok(Vec::new());
        };
        // Nearest first (one edit scores more than two), then in subject order.
        let collector = TopDocs::with_limit(DID_YOU_MEAN * 4).tweak_score(self.columns.sort_key(false));
        let mut names: Vec<String> = Vec::new();
        for ((_, Reverse(id)), _) in searcher.search(&query, &collector)? {
            request.cancel.check()?;
            let Some(subject) = self.visible_subject(store, request, public, &Verify::Nothing, id, today)? else {
                continue;
            };
            if !names.contains(&subject.name) {
                names.push(subject.name.clone());
            }
            if names.len() == DID_YOU_MEAN {
                break;
            }
        }
        Ok(names)
    }
}

/// Most names a search without hits suggests.
pub const DID_YOU_MEAN: usize = 5;

/// Hits and how they were found.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// No subject matched every part of the query: these match some parts, best first.
    pub partial: bool,
    /// Nothing matched: names that read nearly like the query (by pinyin), to try instead.
    pub did_you_mean: Vec<String>,
}

/// What the public view must show of a hit's records for the public to see the hit at all: a record
/// with the document number it matched, and a record that passes the record filter.
struct PublicRecords<'r> {
    rules: std::sync::Arc<crate::disclosure::DisclosureRules>,
    filters: &'r Filters,
}

impl<'r> PublicRecords<'r> {
    /// `None` for searches no record of which needs checking: regulators', and public ones that match
    /// names and codes only.
    fn new(request: &'r SearchRequest) -> Option<PublicRecords<'r>> {
        if request.view != View::Public {
            return None;
        }
        let rules = request.disclosure.clone().unwrap_or_else(crate::disclosure::DisclosureRules::builtin);
        Some(PublicRecords { rules, filters: &request.filters })
    }

    fn shows<E: Engine>(
        &self,
        store: &Store<E>,
        subject: &Subject,
        verify: &Verify,
        today: NaiveDate,
    ) -> Result<bool, StoreError> {
        let document = match verify {
            Verify::Nothing if !self.filters.on_records() => return Ok(true),
            Verify::Nothing => None,
            Verify::PublicDocument(key) => Some(key.as_str()),
        };
        let audience = crate::view::Audience::new(View::Public, today, &self.rules);
        for record in store.records_of(subject.id, None)? {
            if !crate::view::shows_record(subject, &record.current, &audience) {
                continue;
            }
            // What the index holds of the record (its number, category and date), now of a shown one.
            let indexed = IndexedRecord::of(&record, today);
            let numbered =
                document.is_none_or(|key| indexed.document_number.as_deref().is_some_and(|n| code_key(n) == key));
            if numbered && self.filters.record_matches(&indexed) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn hit(subject: &Subject, score: f32, normalized_query: &str, view: View, cursor: String, partial: bool) -> SearchHit {
    let person = subject.subject_type == SubjectType::NaturalPerson;
    let code = if person {
        subject.identifier(IdentifierKind::Ric).map(mask_id_number)
    } else {
        subject.primary_code().map(str::to_string)
    };
    let name = if person && view == View::Public { mask_name(&subject.name) } else { subject.name.clone() };
    let highlight = if person && view == View::Public { name.clone() } else { highlight(&name, normalized_query) };
    SearchHit {
        code,
        name,
        subject_type: subject.subject_type.as_str(),
        score,
        subject_id: subject.id.0,
        division: subject.division.clone(),
        status: subject.status.clone(),
        highlight,
        cursor,
        partial,
    }
}

/// Marks the characters of `name` that occur in the query (after normalisation), merging neighbours.
/// Linear in the name and the query: the query's characters are looked up in a set.
fn highlight(name: &str, normalized_query: &str) -> String {
    let wanted: foldhash::HashSet<char> = normalized_query.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = String::new();
    let mut open = false;
    for c in name.chars() {
        let hit = normalize(c.encode_utf8(&mut [0; 4])).chars().all(|n| wanted.contains(&n));
        match (hit, open) {
            (true, false) => out.push_str("<em>"),
            (false, true) => out.push_str("</em>"),
            _ => {}
        }
        open = hit;
        out.push(c);
    }
    if open {
        out.push_str("</em>");
    }
    out
}

/// What a cursor is bound to: the index's key, the query as normalised, the filters and the view. A
/// cursor made for another query, or forged, fails its check.
struct CursorBinding {
    hasher: blake3::Hasher,
}

impl CursorBinding {
    fn new(id_key: &[u8; 32], normalized_query: &str, request: &SearchRequest) -> CursorBinding {
        let key = blake3::derive_key("credit search cursor v1", id_key);
        let mut hasher = blake3::Hasher::new_keyed(&key);
        let filters = format!("{:?}|{:?}", request.filters, request.view);
        for part in [normalized_query, filters.as_str()] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        CursorBinding { hasher }
    }

    /// The check of a cursor's fields: 64 bits of a keyed hash, in hex.
    fn tag(&self, body: &str) -> String {
        let mut hasher = self.hasher.clone();
        hasher.update(body.as_bytes());
        let hash = hasher.finalize();
        hash.to_hex()[..16].to_string()
    }
}

/// Position after a hit: its score and subject id (the order), and how many hits came before (a hint for
/// how many to fetch). Opaque to callers: `score.id.position.tag`, in hex.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cursor {
    score: f32,
    id: u64,
    position: u64,
}

impl Cursor {
    fn encode(self, binding: &CursorBinding) -> String {
        let body = format!("{:08x}.{:x}.{:x}", self.score.to_bits(), self.id, self.position);
        let tag = binding.tag(&body);
        format!("{body}.{tag}")
    }

    fn decode(text: &str, binding: &CursorBinding) -> Result<Cursor, SearchError> {
        let bad = |why: &str| SearchError::BadCursor(format!("not a page token this search returned ({why})"));
        if text.len() > 64 {
            return Err(bad("too long"));
        }
        let Some((body, tag)) = text.rsplit_once('.') else {
            return Err(bad("malformed"));
        };
        let mut parts = body.split('.');
        let (Some(score), Some(id), Some(position), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("malformed"));
        };
        if binding.tag(body) != tag {
            return Err(bad("made for another query, or altered"));
        }
        let cursor = Cursor {
            score: f32::from_bits(u32::from_str_radix(score, 16).map_err(|_| bad("malformed"))?),
            id: u64::from_str_radix(id, 16).map_err(|_| bad("malformed"))?,
            position: u64::from_str_radix(position, 16).map_err(|_| bad("malformed"))?,
        };
        if cursor.position > MAX_POSITION || !cursor.score.is_finite() {
            return Err(bad("out of range"));
        }
        Ok(cursor)
    }

    /// Whether this cursor comes before a hit of `score` and `id` in result order.
    fn is_before(self, score: f32, id: u64) -> bool {
        score < self.score || (score == self.score && id > self.id)
    }
}

fn read_payload(index: &Index) -> Result<Option<Payload>, SearchError> {
    let metas = index.load_metas()?;
    Ok(metas.payload.as_deref().and_then(|p| serde_json::from_str(p).ok()))
}

/// The key for hashing ID numbers, made once per index from the system's randomness and made durable
/// (file and directory synced) before anything is hashed with it. A key that is missing or damaged
/// beside an index that exists is an error, not a new key: the index's hashes would silently stop
/// matching (remove the index directory to build it again).
fn id_key(dir: &Path, index_kept: bool) -> Result<[u8; 32], SearchError> {
    let path = dir.join("id-hash.key");
    match std::fs::read(&path) {
        Ok(bytes) => {
            return <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| SearchError::Io(std::io::Error::other(format!("{}: not a 32-byte key", path.display()))));
        }
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error.into()),
        Err(_) => {}
    }
    if index_kept {
        return Err(SearchError::Io(std::io::Error::other(format!(
            "{} is missing beside an existing index; remove {} to rebuild the index",
            path.display(),
            dir.display()
        ))));
    }
    let mut key = [0u8; 32];
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    file.write_all(&key)?;
    file.sync_all()?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(key)
}

/// Removes an outdated index (its files, not the key).
fn clear_index_files(dir: &Path) -> Result<(), SearchError> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name() != "id-hash.key" && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// The pinyin syllables the index reads a (normalised) name as: one per Chinese character, words with
/// another reading first, runs of ASCII letters and digits as one.
pub fn pinyin_syllables(text: &str) -> Vec<String> {
    analysis::syllables(&normalize(text))
}

/// Record categories as filter values.
pub fn parse_category(value: &str) -> Option<RecordCategory> {
    [RecordCategory::Licence, RecordCategory::Penalty, RecordCategory::ListEntry, RecordCategory::Other]
        .into_iter()
        .find(|c| c.as_str() == value)
}
