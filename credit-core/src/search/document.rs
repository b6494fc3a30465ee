//! The index schema and how a subject (with its records) becomes one document.

use std::borrow::Cow;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use tantivy::TantivyDocument;
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};

use super::analysis::{self, GRAMS, PRESPLIT_WORDS, SPACED, WORDS, WordCache};
use super::normalize::{code_key, code_key_of_normalized, core_name, legal_forms_ending, normalize};
use crate::model::{IdentifierKind, RecordCategory, RecordDetails, RecordVersion, Subject, SubjectType};
use crate::store::{RecordView, StoreError};

pub const ID: &str = "id";
pub const ESTABLISHED: &str = "established";

/// The fields, by role.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// Subject id: the join key with the store.
    pub id: Field,
    /// Organisation identifiers (unified code, organisation code, registration and tax numbers), as keys.
    pub codes: Field,
    /// Keyed hashes of ID numbers: exact lookups without the number in the index.
    pub id_hashes: Field,
    /// Normalised names and former names, whole (exact and prefix matches).
    pub names: Field,
    /// The same without legal-form endings.
    pub core_names: Field,
    /// Core names segmented into words (jieba, search mode).
    pub name_words: Field,
    /// Core names as CJK unigrams and bigrams: recall for partial names and a wrong character.
    pub name_grams: Field,
    /// Pinyin syllables of core names (with positions: typed pinyin is a phrase), and the whole
    /// name's pinyin for prefix matches.
    pub pinyin: Field,
    pub pinyin_whole: Field,
    /// Pairs of neighbouring syllables of core names ([`analysis::pinyin_pairs`]).
    pub pinyin_pairs: Field,
    /// Pairs of neighbouring initials of core names (with positions).
    pub initials: Field,
    /// Names of the legal representative and other related persons (organisations only).
    pub people: Field,
    pub address: Field,
    /// The names of the subject's division and the divisions above it, and the places its registered
    /// address starts with, whole and without their endings ([`analysis::place_names`]): where a place
    /// typed beside a name is looked for (a county is often in the address only).
    pub places: Field,
    /// What [`core_name`] cut from the end of the names (`集团有限公司`), whole, and each legal form they
    /// end with (`有限公司`, `公司`).
    pub legal_forms: Field,
    /// Day of establishment (days since 1970-01-01, 0 when unknown): generic queries list the newest first.
    pub established: Field,
    /// The year of establishment, as a term: the subjects established in the last years are the
    /// postings of two terms (a range of days costs a set of bits over every subject per query).
    pub established_year: Field,
    /// Document numbers of records, as keys.
    pub documents: Field,
    /// Document numbers, authorities, violation types and facts of records.
    pub record_text: Field,
    pub division: Field,
    pub subject_type: Field,
    pub status: Field,
    /// `any` and each list type with an entry not yet ended at indexing time (verified at query time).
    pub lists: Field,
    /// `category|YYYY-MM-DD` and `any|YYYY-MM-DD` of each record's decision (or listing) date.
    pub record_dates: Field,
}

/// Text fields are scored on document frequency and length only (a word or character pair occurs in a
/// name once, record words are indexed once per subject): recording frequencies would cost the build
/// without changing a ranking. Positions where phrases are matched.
fn text(tokenizer: &str, positions: bool) -> TextOptions {
    let option = if positions { IndexRecordOption::WithFreqsAndPositions } else { IndexRecordOption::Basic };
    TextOptions::default()
        .set_indexing_options(TextFieldIndexing::default().set_tokenizer(tokenizer).set_index_option(option))
}

pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_u64_field(ID, INDEXED | FAST),
        codes: b.add_text_field("codes", STRING),
        id_hashes: b.add_text_field("id_hashes", STRING),
        names: b.add_text_field("names", STRING),
        core_names: b.add_text_field("core_names", STRING),
        name_words: b.add_text_field("name_words", text(WORDS, false)),
        name_grams: b.add_text_field("name_grams", text(GRAMS, false)),
        pinyin: b.add_text_field("pinyin", text(SPACED, true)),
        pinyin_whole: b.add_text_field("pinyin_whole", STRING),
        pinyin_pairs: b.add_text_field("pinyin_pairs", text(SPACED, false)),
        initials: b.add_text_field("initials", text(SPACED, true)),
        people: b.add_text_field("people", text(GRAMS, false)),
        address: b.add_text_field("address", text(WORDS, false)),
        places: b.add_text_field("places", text(SPACED, false)),
        legal_forms: b.add_text_field("legal_forms", STRING),
        established: b.add_u64_field(ESTABLISHED, FAST),
        established_year: b.add_text_field("established_year", STRING),
        documents: b.add_text_field("documents", STRING),
        record_text: b.add_text_field("record_text", text(PRESPLIT_WORDS, false)),
        division: b.add_text_field("division", STRING),
        subject_type: b.add_text_field("subject_type", STRING),
        status: b.add_text_field("status", STRING),
        lists: b.add_text_field("lists", STRING),
        record_dates: b.add_text_field("record_dates", STRING),
    };
    (b.build(), fields)
}

/// Days from 1970-01-01 to `date` (0 before it).
pub fn days_since_epoch(date: NaiveDate) -> u64 {
    u64::try_from((date - NaiveDate::default()).num_days()).unwrap_or(0)
}

/// The day `days` after 1970-01-01 ([`days_since_epoch`] back).
pub fn date_of_days(days: u64) -> Option<NaiveDate> {
    NaiveDate::default().checked_add_days(chrono::Days::new(days))
}

/// A keyed hash of an ID number (normalised like any code).
pub fn id_hash(key: &[u8; 32], id_number: &str) -> String {
    blake3::keyed_hash(key, code_key(id_number).as_bytes()).to_hex().to_string()
}

/// What a document takes from a record's current version.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedRecord<'a> {
    pub category: RecordCategory,
    pub document_number: Option<Cow<'a, str>>,
    pub authority: Option<Cow<'a, str>>,
    pub decision_date: Option<NaiveDate>,
    /// A penalty's violation type and facts.
    pub texts: Vec<Cow<'a, str>>,
    /// A list entry: its list type, the day it was listed, and whether it is in force now or later.
    pub listing: Option<(Cow<'a, str>, NaiveDate, bool)>,
}

/// The fields of a stored record version the index reads, borrowed from the JSON (the stored text has
/// no escapes in Chinese text). Decoding only these is most of the cost of reading records saved.
#[derive(Deserialize)]
struct StoredVersion<'a> {
    #[serde(borrow)]
    content: StoredContent<'a>,
}

#[derive(Deserialize)]
struct StoredContent<'a> {
    #[serde(default, borrow)]
    document_number: Option<Cow<'a, str>>,
    #[serde(default)]
    decision_date: Option<NaiveDate>,
    #[serde(default, borrow)]
    authority: Option<Cow<'a, str>>,
    #[serde(borrow)]
    details: StoredDetails<'a>,
}

#[derive(Deserialize)]
struct StoredDetails<'a> {
    #[serde(default, borrow)]
    violation_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    facts: Option<Cow<'a, str>>,
}

impl<'a> IndexedRecord<'a> {
    pub fn of(record: &'a RecordView, today: NaiveDate) -> IndexedRecord<'a> {
        let content = &record.current.content;
        let mut indexed = IndexedRecord {
            category: record.category,
            document_number: content.document_number.as_deref().map(Cow::Borrowed),
            authority: content.authority.as_deref().map(Cow::Borrowed),
            decision_date: content.decision_date,
            texts: Vec::new(),
            listing: None,
        };
        match &content.details {
            RecordDetails::Penalty { violation_type, facts, .. } => {
                indexed.texts =
                    [violation_type, facts].into_iter().flatten().map(|t| Cow::Borrowed(t.as_str())).collect();
            }
            RecordDetails::ListEntry { list_type, listed_on, .. } => {
                // In force now or later: the query re-checks the store for the day it runs.
                let current = content.in_force_on(today) || (*listed_on > today && content.in_force_on(*listed_on));
                indexed.listing = Some((Cow::Borrowed(list_type), *listed_on, current));
            }
            _ => {}
        }
        indexed
    }

    /// From a current version as stored. List entries, whose standing takes every date and status of
    /// the record, are decoded whole.
    pub fn from_json(
        category: RecordCategory,
        json: &'a [u8],
        today: NaiveDate,
    ) -> Result<IndexedRecord<'a>, StoreError> {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("undecodable record version: {e}"));
        if category == RecordCategory::ListEntry {
            let current: RecordVersion = serde_json::from_slice(json).map_err(corrupt)?;
            let view = RecordView { id: current.record, category, versions: current.version, current };
            return Ok(IndexedRecord::of(&view, today).into_owned());
        }
        let stored: StoredVersion<'a> = serde_json::from_slice(json).map_err(corrupt)?;
        let content = stored.content;
        let texts = if category == RecordCategory::Penalty {
            [content.details.violation_type, content.details.facts].into_iter().flatten().collect()
        } else {
            Vec::new()
        };
        Ok(IndexedRecord {
            category,
            document_number: content.document_number,
            authority: content.authority,
            decision_date: content.decision_date,
            texts,
            listing: None,
        })
    }

    /// The day the record's date filters see: its decision date, else the day it was listed.
    pub fn date(&self) -> Option<NaiveDate> {
        self.decision_date.or(self.listing.as_ref().map(|(_, listed_on, _)| *listed_on))
    }

    fn into_owned(self) -> IndexedRecord<'static> {
        let owned = |c: Cow<'a, str>| Cow::Owned(c.into_owned());
        IndexedRecord {
            category: self.category,
            document_number: self.document_number.map(owned),
            authority: self.authority.map(owned),
            decision_date: self.decision_date,
            texts: self.texts.into_iter().map(owned).collect(),
            listing: self.listing.map(|(t, on, current)| (owned(t), on, current)),
        }
    }
}

pub fn build(
    fields: &Fields,
    subject: &Subject,
    records: &[IndexedRecord],
    key: &[u8; 32],
    cache: &mut WordCache,
) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_u64(fields.id, subject.id.0);
    for identifier in &subject.identifiers {
        match identifier.kind {
            IdentifierKind::Ric => doc.add_text(fields.id_hashes, id_hash(key, &identifier.value)),
            _ => doc.add_text(fields.codes, code_key(&identifier.value)),
        }
    }
    for name in std::iter::once(&subject.name).chain(&subject.former_names) {
        let normalized = normalize(name);
        let core = core_name(&normalized);
        let syllables = analysis::syllables(core);
        doc.add_text(fields.names, &normalized);
        doc.add_text(fields.core_names, core);
        doc.add_text(fields.name_words, core);
        doc.add_text(fields.name_grams, core);
        doc.add_text(fields.pinyin, analysis::pinyin_tokens(&syllables));
        doc.add_text(fields.pinyin_whole, syllables.concat());
        doc.add_text(fields.pinyin_pairs, analysis::pinyin_pairs(&syllables));
        doc.add_text(fields.initials, analysis::initial_pairs(&syllables));
        // The whole ending cut, and each legal form the name ends with: a query of `公司` lists every
        // company, one of `有限公司` those of that form.
        let form = normalized[core.len()..].trim();
        if !form.is_empty() && normalized.starts_with(core) {
            doc.add_text(fields.legal_forms, form);
        }
        for ending in legal_forms_ending(&normalized).filter(|e| *e != form) {
            doc.add_text(fields.legal_forms, ending);
        }
    }
    let established = subject.established.map_or(0, days_since_epoch);
    doc.add_u64(fields.established, established);
    if let Some(date) = subject.established {
        doc.add_text(fields.established_year, date.year().to_string());
    }
    if subject.subject_type != SubjectType::NaturalPerson {
        for person in &subject.related {
            doc.add_text(fields.people, normalize(&person.name));
        }
    }
    // A person's address is nobody's to search by; their division is public knowledge of the code.
    let address = (subject.subject_type != SubjectType::NaturalPerson)
        .then_some(subject.address.as_deref())
        .flatten()
        .map(normalize);
    let places = analysis::place_names(subject.division.as_deref(), address.as_deref());
    if !places.is_empty() {
        doc.add_text(fields.places, places);
    }
    if let Some(address) = address {
        doc.add_text(fields.address, address);
    }
    if let Some(division) = &subject.division {
        for prefix in analysis::division_prefixes(division) {
            doc.add_text(fields.division, prefix);
        }
    }
    doc.add_text(fields.subject_type, subject.subject_type.as_str());
    if let Some(status) = &subject.status {
        doc.add_text(fields.status, normalize(status));
    }
    let mut listed = false;
    let mut texts = Vec::new();
    for record in records {
        if let Some(number) = &record.document_number {
            let normalized = normalize(number);
            doc.add_text(fields.documents, code_key_of_normalized(&normalized));
            cache.document_words(&normalized, &mut texts);
        }
        if let Some(authority) = &record.authority {
            texts.push(cache.words(authority));
        }
        texts.extend(record.texts.iter().map(|text| cache.words(text)));
        if let Some((list_type, _, true)) = &record.listing {
            doc.add_text(fields.lists, list_type);
            listed = true;
        }
        if let Some(date) = record.date() {
            let category = record.category.as_str();
            doc.add_text(fields.record_dates, format!("{category}|{date}"));
            doc.add_text(fields.record_dates, format!("any|{date}"));
        }
    }
    if listed {
        doc.add_text(fields.lists, "any");
    }
    if !texts.is_empty() {
        doc.add_text(fields.record_text, analysis::distinct_words(&texts));
    }
    doc
}
