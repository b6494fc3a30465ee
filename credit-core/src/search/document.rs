//! The index schema and how a subject (with its records) becomes one document.

use chrono::NaiveDate;
use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use super::analysis::{self, GRAMS, SPACED, WORDS};
use super::normalize::{code_key, core_name, normalize};
use crate::model::{IdentifierKind, RecordDetails, Subject, SubjectType};
use crate::store::RecordView;

pub const ID: &str = "id";

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
    /// Pinyin runs of core names, and the whole name's pinyin for prefix matches.
    pub pinyin: Field,
    pub pinyin_whole: Field,
    /// Initials runs of core names.
    pub initials: Field,
    /// Names of the legal representative and other related persons (organisations only).
    pub people: Field,
    pub address: Field,
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

fn text(tokenizer: &str, positions: bool) -> TextOptions {
    let option = if positions { IndexRecordOption::WithFreqsAndPositions } else { IndexRecordOption::WithFreqs };
    TextOptions::default()
        .set_indexing_options(TextFieldIndexing::default().set_tokenizer(tokenizer).set_index_option(option))
}

pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_u64_field(ID, INDEXED | STORED | FAST),
        codes: b.add_text_field("codes", STRING),
        id_hashes: b.add_text_field("id_hashes", STRING),
        names: b.add_text_field("names", STRING),
        core_names: b.add_text_field("core_names", STRING),
        name_words: b.add_text_field("name_words", text(WORDS, false)),
        name_grams: b.add_text_field("name_grams", text(GRAMS, false)),
        pinyin: b.add_text_field("pinyin", text(SPACED, false)),
        pinyin_whole: b.add_text_field("pinyin_whole", STRING),
        initials: b.add_text_field("initials", text(SPACED, false)),
        people: b.add_text_field("people", text(GRAMS, false)),
        address: b.add_text_field("address", text(WORDS, false)),
        documents: b.add_text_field("documents", STRING),
        record_text: b.add_text_field("record_text", text(WORDS, false)),
        division: b.add_text_field("division", STRING),
        subject_type: b.add_text_field("subject_type", STRING),
        status: b.add_text_field("status", STRING),
        lists: b.add_text_field("lists", STRING),
        record_dates: b.add_text_field("record_dates", STRING),
    };
    (b.build(), fields)
}

/// A keyed hash of an ID number (normalised like any code).
pub fn id_hash(key: &[u8; 32], id_number: &str) -> String {
    blake3::keyed_hash(key, code_key(id_number).as_bytes()).to_hex().to_string()
}

pub fn build(
    fields: &Fields,
    subject: &Subject,
    records: &[RecordView],
    today: NaiveDate,
    key: &[u8; 32],
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
        doc.add_text(fields.pinyin, analysis::pinyin_runs(&syllables));
        doc.add_text(fields.pinyin_whole, syllables.concat());
        doc.add_text(fields.initials, analysis::initial_runs(&syllables));
    }
    if subject.subject_type != SubjectType::NaturalPerson {
        for person in &subject.related {
            doc.add_text(fields.people, normalize(&person.name));
        }
        if let Some(address) = &subject.address {
            doc.add_text(fields.address, normalize(address));
        }
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
    for record in records {
        let content = &record.current.content;
        if let Some(number) = &content.document_number {
            doc.add_text(fields.documents, code_key(number));
            doc.add_text(fields.record_text, normalize(number));
        }
        if let Some(authority) = &content.authority {
            doc.add_text(fields.record_text, normalize(authority));
        }
        let category = record.category.as_str();
        let mut date = content.decision_date;
        match &content.details {
            RecordDetails::Penalty { violation_type, facts, .. } => {
                for text in [violation_type, facts].into_iter().flatten() {
                    doc.add_text(fields.record_text, normalize(text));
                }
            }
            RecordDetails::ListEntry { list_type, listed_on, .. } => {
                date = date.or(Some(*listed_on));
                // Entries in force now or later: the query re-checks the store for the day it runs.
                let current = content.in_force_on(today) || (*listed_on > today && content.in_force_on(*listed_on));
                if current {
                    doc.add_text(fields.lists, list_type);
                    listed = true;
                }
            }
            _ => {}
        }
        if let Some(date) = date {
            doc.add_text(fields.record_dates, format!("{category}|{date}"));
            doc.add_text(fields.record_dates, format!("any|{date}"));
        }
    }
    if listed {
        doc.add_text(fields.lists, "any");
    }
    doc
}
