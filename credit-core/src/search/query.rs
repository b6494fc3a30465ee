//! From what someone typed to a tantivy query, ranked: exact identifier > exact name > name prefix >
//! word matches, with legal-form endings weighing little (they are not in the word fields at all).

use std::ops::Bound;

use chrono::{Datelike, NaiveDate};
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhrasePrefixQuery, PhraseQuery, Query,
    RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TokenStream;
use tantivy::{Index, Searcher, Term};

use super::SearchError;
use super::analysis;
use super::document::{Fields, date_of_days, id_hash};
use super::normalize::{code_key, core_name, is_legal_form};
use crate::engine::Engine;
use crate::model::{RecordCategory, Subject, SubjectType};
use crate::store::Store;
use crate::view::View;

/// Filters; every one given must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters {
    pub subject_type: Option<SubjectType>,
    /// A province, city or county code (2, 4 or 6 digits).
    pub division: Option<String>,
    pub status: Option<String>,
    /// On a list now: `Some(None)` any list, `Some(Some(code))` a given list type.
    pub listed: Option<Option<String>>,
    /// Has a record of this category (with `from`/`to`: decided in that range).
    pub category: Option<RecordCategory>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl Filters {
    /// Whether a record filter (category or decision dates) is set.
    pub fn on_records(&self) -> bool {
        self.category.is_some() || self.from.is_some() || self.to.is_some()
    }

    /// Whether `record` passes the record filter, by the category and date the index holds of it.
    pub(super) fn record_matches(&self, record: &super::document::IndexedRecord<'_>) -> bool {
        let date = record.date();
        self.category.is_none_or(|c| record.category == c)
            && self.from.is_none_or(|from| date.is_some_and(|d| d >= from))
            && self.to.is_none_or(|to| date.is_some_and(|d| d <= to))
    }

    /// The index clauses of the filters. The record filter's clause matches every record's dates,
    /// hidden ones included: for the public view it only narrows the candidates, and each hit is checked
    /// on the store against the records the public sees today.
    fn queries(&self, fields: &Fields) -> Result<Vec<Box<dyn Query>>, SearchError> {
        let mut out: Vec<Box<dyn Query>> = Vec::new();
        if let Some(t) = self.subject_type {
            out.push(term(fields.subject_type, t.as_str()));
        }
        if let Some(division) = &self.division {
            if !matches!(division.len(), 2 | 4 | 6) || !division.bytes().all(|b| b.is_ascii_digit()) {
                return Err(SearchError::BadFilter {
                    field: "division",
                    reason: format!("{division:?} is not a 2-, 4- or 6-digit division code"),
                });
            }
            out.push(term(fields.division, division));
        }
        if let Some(status) = &self.status {
            out.push(term(fields.status, &super::normalize(status)));
        }
        if let Some(listed) = &self.listed {
            out.push(term(fields.lists, listed.as_deref().unwrap_or("any")));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(SearchError::BadFilter { field: "from", reason: format!("{from} is after {to}") });
        }
        if self.on_records() {
            let category = self.category.map_or("any", RecordCategory::as_str);
            let lower =
                Term::from_field_text(fields.record_dates, &format!("{category}|{}", bound_date(self.from, "0000")));
            let upper =
                Term::from_field_text(fields.record_dates, &format!("{category}|{}", bound_date(self.to, "9999")));
            out.push(Box::new(RangeQuery::new(Bound::Included(lower), Bound::Included(upper))));
        }
        Ok(out)
    }

    /// What the index cannot know for sure (list entries end by date): checked again on the store.
    pub(super) fn still_holds<E: Engine>(
        &self,
        store: &Store<E>,
        subject: &Subject,
        today: NaiveDate,
    ) -> Result<bool, crate::store::StoreError> {
        if let Some(t) = self.subject_type
            && subject.subject_type != t
        {
            return Ok(false);
        }
        let Some(listed) = &self.listed else {
            return Ok(true);
        };
        let entries = store.list_entries_of(subject.id)?;
        Ok(entries.iter().any(|e| e.in_force_on(today) && listed.as_deref().is_none_or(|code| e.list_type == code)))
    }
}

fn bound_date(date: Option<NaiveDate>, open: &str) -> String {
    date.map_or_else(|| open.to_string(), |d| d.to_string())
}

fn term(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
}

fn constant(query: Box<dyn Query>, score: f32) -> (Occur, Box<dyn Query>) {
    (Occur::Should, Box::new(ConstScoreQuery::new(query, score)))
}

fn boosted(query: Box<dyn Query>, boost: f32) -> (Occur, Box<dyn Query>) {
    (Occur::Should, Box::new(BoostQuery::new(query, boost)))
}

/// A disjunction of the tokens the field's analyzer makes of `text` in `field`, BM25-scored.
/// Tokens shorter than `min_chars` characters are left out.
fn tokens(index: &Index, field: Field, text: &str, min_chars: usize) -> Result<Option<Box<dyn Query>>, SearchError> {
    let mut analyzer = analysis::query_analyzer(index, field)?;
    let mut stream = analyzer.token_stream(text);
    let mut terms = Vec::new();
    let mut seen = foldhash::HashSet::default();
    while let Some(token) = stream.next() {
        if token.text.chars().count() < min_chars || !seen.insert(token.text.clone()) {
            continue;
        }
        terms.push(Term::from_field_text(field, &token.text));
    }
    if terms.is_empty() {
        return Ok(None);
    }
    let clauses: Vec<(Occur, Box<dyn Query>)> = terms
        .into_iter()
        .map(|t| (Occur::Should, Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs)) as Box<dyn Query>))
        .collect();
    Ok(Some(Box::new(BooleanQuery::new(clauses))))
}

/// Scores of the exact kinds of match: far above what word matches add up to.
const EXACT_CODE: f32 = 1000.0;
const EXACT_NAME: f32 = 500.0;
const EXACT_CORE_NAME: f32 = 400.0;
const EXACT_DOCUMENT: f32 = 350.0;
const CODE_PREFIX: f32 = 300.0;
const NAME_PREFIX: f32 = 200.0;
const PINYIN_WHOLE_PREFIX: f32 = 60.0;
const ALL_PAIRS: f32 = 40.0;

/// What a hit of a stage must also show on the store before the public sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// Nothing: the stage matched only what the public view shows (names, codes, addresses).
    Nothing,
    /// A record the public sees today has this document number (as a code key).
    PublicDocument(String),
}

/// How a stage's hits are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Best match first.
    Relevance,
    /// Most recently established first: every hit of a generic query matches it equally.
    Newest,
}

/// A stage of a search: its query and what its hits must also show.
pub struct Stage {
    pub query: Box<dyn Query>,
    pub verify: Verify,
    /// Its hits match only some of what was typed (no subject matched every part, or every pair of
    /// characters of a fragment).
    pub partial: bool,
    pub order: Order,
    /// The stage looks at recent subjects only: its hits are the newest of all only when they fill
    /// what was asked for; otherwise the next stage (the same query over every date) answers.
    pub window: bool,
}

impl Stage {
    fn new(query: Box<dyn Query>) -> Stage {
        Stage { query, verify: Verify::Nothing, partial: false, order: Order::Relevance, window: false }
    }
}

/// A piece of what someone typed, read in the one way its script reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part<'a> {
    /// Chinese characters (a place, a brand, a word of a name).
    Han(&'a str),
    /// Latin letters: pinyin (whole or by syllables), initials, or the letters of a name.
    Letters(&'a str),
    /// Digits, or letters and digits together: a code's start, a number in a name or address.
    Alphanumeric(&'a str),
}

/// The parts of a normalised query: split at spaces and punctuation, and where the script changes
/// (`东莞longchang` is `东莞` and `longchang`). At most [`MAX_PARTS`]; the rest is ignored.
pub fn parts(text: &str) -> Vec<Part<'_>> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Han,
        Ascii,
        Other,
    }
    let class = |c: char| {
        if c.is_ascii_alphanumeric() {
            Class::Ascii
        } else if c.is_alphanumeric() {
            Class::Han
        } else {
            Class::Other
        }
    };
    let mut out = Vec::new();
    // The class of the run being read, and where it started.
    let mut run: Option<(Class, usize)> = None;
    for (at, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        let this = class(c);
        match run {
            Some((current, _)) if current == this => continue,
            Some((current, start)) if current != Class::Other => {
                out.push(part(&text[start..at], current == Class::Han))
            }
            _ => {}
        }
        run = Some((this, at));
    }
    out.truncate(MAX_PARTS);
    out
}

fn part(piece: &str, han: bool) -> Part<'_> {
    if han {
        Part::Han(piece)
    } else if piece.bytes().all(|b| b.is_ascii_lowercase()) {
        Part::Letters(piece)
    } else {
        Part::Alphanumeric(piece)
    }
}

/// Most parts a query is read in: names and places are far fewer words.
pub const MAX_PARTS: usize = 12;

/// What matches one part, in every way its script reads; `None` when the part is too short to require
/// (one Latin letter), so it only adds to the score.
fn part_query(fields: &Fields, part: Part<'_>) -> Option<Box<dyn Query>> {
    let mut ways: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    match part {
        Part::Han(text) if is_legal_form(text) => return Some(term(fields.legal_forms, text)),
        Part::Han(text) => {
            // Every character pair of the part (or its one character) in the name, or in the places;
            // names are indexed without their legal form, and so is the part.
            let core = core_name(text);
            ways.push(boosted(all_of(fields.name_grams, &char_grams(core)), 2.0));
            ways.push(boosted(term_scored(fields.places, core), 0.5));
        }
        Part::Letters(letters) => {
            if letters.len() < 2 && analysis::segmentations(letters).is_empty() {
                return None;
            }
            ways.push(boosted(typed_pinyin_pairs(fields, letters), 8.0));
            if letters.len() >= 2 {
                ways.push(boosted(phrase(fields.initials, &analysis::typed_initial_pairs(letters)), 6.0));
            }
            ways.push(boosted(term_scored(fields.name_words, letters), 3.0));
        }
        Part::Alphanumeric(text) => {
            let key = text.to_uppercase();
            if key.len() >= 4 {
                ways.push(constant(prefix(fields.codes, &key), CODE_PREFIX / 10.0));
            }
            ways.push(boosted(term_scored(fields.name_words, text), 3.0));
            ways.push(boosted(term_scored(fields.address, text), 0.3));
        }
    }
    Some(Box::new(BooleanQuery::new(ways)))
}

/// The character pairs of a text of Chinese characters, or its one character.
fn char_grams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() == 1 {
        return vec![chars[0].to_string()];
    }
    let mut seen = foldhash::HashSet::default();
    chars.windows(2).map(|pair| pair.iter().collect::<String>()).filter(|g| seen.insert(g.clone())).collect()
}

/// Every one of `tokens` in `field`, scored.
fn all_of(field: Field, tokens: &[String]) -> Box<dyn Query> {
    if let [one] = tokens {
        return term_scored(field, one);
    }
    Box::new(BooleanQuery::new(tokens.iter().map(|t| (Occur::Must, term_scored(field, t))).collect()))
}

/// A query is generic when no part of it singles anything out: its words (after the legal form) are each
/// in at least this share of the names, or it is a legal form alone.
const GENERIC_SHARE: u64 = 100;
/// ... and in at least this many names (a small index has no generic words to speak of).
const GENERIC_MIN_DOCS: u64 = 20;

/// The queries for `normalized` text, in stages: the first stage that matches anything answers (none:
/// nothing to look for). Exact identifiers, names and document numbers first: when someone typed one,
/// near misses are noise, and the exact terms are cheap to look up. Then names by prefix, words,
/// characters and pinyin; and only when no name matches, the text of records, addresses and people.
pub fn build(
    searcher: &Searcher,
    newest_established: Option<u64>,
    fields: &Fields,
    normalized: &str,
    filters: &Filters,
    view: View,
    id_key: &[u8; 32],
) -> Result<Vec<Stage>, SearchError> {
    let index = searcher.index();
    let text = normalized.trim();
    let public = view == View::Public;
    let filter_queries = filters.queries(fields)?;
    let not_a_person = || term(fields.subject_type, SubjectType::NaturalPerson.as_str());
    if text.is_empty() {
        if filter_queries.is_empty() {
            return Ok(Vec::new());
        }
        // Filters alone: every subject they select, in subject order (no natural person, publicly).
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = filter_queries.into_iter().map(|q| (Occur::Must, q)).collect();
        if public {
            clauses.push((Occur::MustNot, not_a_person()));
        }
        let query = Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::new(clauses)), 1.0));
        return Ok(vec![Stage::new(query)]);
    }
    let key = code_key(text);
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let core = core_name(&compact);

    let mut exact = vec![
        constant(term(fields.codes, &key), EXACT_CODE),
        constant(term(fields.names, &compact), EXACT_NAME),
        constant(term(fields.core_names, core), EXACT_CORE_NAME),
    ];
    // The index holds every record's document number: publicly, a match is a stage of its own whose
    // hits must show a record with that number in today's public view.
    let document = || constant(term(fields.documents, &key), EXACT_DOCUMENT);
    if !public {
        exact.push(document());
    }

    let mut names: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    // What ranks the subjects that match every part of a query of several: cheap to look up for each
    // of them (prefixes, one phrase), unlike the unions of common words and pairs the names stage adds.
    let mut rank: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let looks_like_code = key.len() >= 4 && key.chars().all(|c| c.is_ascii_alphanumeric());
    if looks_like_code {
        names.push(constant(prefix(fields.codes, &key), CODE_PREFIX));
    }
    if compact.chars().count() >= 2 {
        names.push(constant(prefix(fields.names, &compact), NAME_PREFIX));
        names.push(constant(prefix(fields.core_names, core), NAME_PREFIX));
        rank.push(constant(prefix(fields.names, &compact), NAME_PREFIX));
        rank.push(constant(prefix(fields.core_names, core), NAME_PREFIX));
    }
    // Every pair of characters of a name fragment in one name: nearly always the fragment itself,
    // far ahead of names that share one pair of it.
    if core.chars().count() >= 3 && core.chars().all(|c| !c.is_ascii() && c.is_alphanumeric()) {
        let all_pairs = || constant(all_of(fields.name_grams, &char_grams(core)), ALL_PAIRS);
        names.push(all_pairs());
        rank.push(all_pairs());
    }
    if let Some(q) = tokens(index, fields.name_words, core, 1)? {
        names.push(boosted(q, 3.0));
    }
    // Single characters only for short queries: in longer ones the pairs carry the meaning, and a
    // character like 市 is in most names.
    let gram = if core.chars().count() >= 3 { 2 } else { 1 };
    if let Some(q) = tokens(index, fields.name_grams, core, gram)? {
        names.push(boosted(q, 2.0));
    }
    let letters = compact.chars().all(|c| c.is_ascii_lowercase());
    if letters && compact.len() >= 2 {
        names.push(boosted(typed_pinyin(fields.pinyin, &compact), 8.0));
        rank.push(boosted(typed_pinyin_pairs(fields, &compact), 8.0));
        // Pinyin typed word by word ("tengyue keji"): each word is a run of syllables.
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.len() > 1 {
            for word in words {
                names.push(boosted(typed_pinyin(fields.pinyin, word), 4.0));
            }
        }
        names.push(boosted(phrase(fields.initials, &analysis::typed_initial_pairs(&compact)), 6.0));
        names.push(constant(prefix(fields.pinyin_whole, &compact), PINYIN_WHOLE_PREFIX));
        rank.push(constant(prefix(fields.pinyin_whole, &compact), PINYIN_WHOLE_PREFIX));
    } else if !letters {
        // Chinese typed in: its pinyin finds homophones (a wrong character of the same sound).
        let syllables = analysis::syllables(core);
        if syllables.len() >= 2 {
            names.push(constant(prefix(fields.pinyin_whole, &syllables.concat()), PINYIN_WHOLE_PREFIX / 2.0));
        }
    }

    let mut texts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    // Record words (authorities, violations, facts) are the regulators' to search: the public view
    // shows few records, and which changes by the day.
    let text_fields: &[(Field, f32)] = if public {
        &[(fields.people, 0.5), (fields.address, 0.3)]
    } else {
        &[(fields.record_text, 0.5), (fields.people, 0.5), (fields.address, 0.3)]
    };
    for &(field, boost) in text_fields {
        if let Some(q) = tokens(index, field, text, 1)? {
            texts.push(boosted(q, boost));
        }
    }

    let by_id_number = constant(term(fields.id_hashes, &id_hash(id_key, text)), EXACT_CODE);
    let visible = |clauses: Vec<(Occur, Box<dyn Query>)>, id_number: Option<(Occur, Box<dyn Query>)>| {
        let matched: Box<dyn Query> = Box::new(BooleanQuery::new(clauses));
        let matched: Box<dyn Query> = match view {
            View::Regulator => matched,
            // Natural persons are found by their full ID number only.
            View::Public => Box::new(BooleanQuery::new(vec![(Occur::Must, matched), (Occur::MustNot, not_a_person())])),
        };
        let either: Box<dyn Query> = match id_number {
            Some(id) => Box::new(BooleanQuery::new(vec![(Occur::Should, matched), id])),
            None => matched,
        };
        let mut all = vec![(Occur::Must, either)];
        all.extend(filter_queries.iter().map(|q| (Occur::Must, q.box_clone())));
        Box::new(BooleanQuery::new(all)) as Box<dyn Query>
    };
    let mut stages = vec![Stage::new(visible(exact, Some(by_id_number)))];
    // Document numbers carry a year and a serial: a query without a digit is none (and the stage, run
    // for every name query otherwise, would cost each of them a pass over every segment). One with
    // characters besides letters and digits (京市监罚〔2024〕1号) is far likelier a document number than a
    // code or a name: its stage goes first.
    if public && key.chars().any(|c| c.is_ascii_digit()) {
        let documents =
            Stage { verify: Verify::PublicDocument(key.clone()), ..Stage::new(visible(vec![document()], None)) };
        let document_like = key.chars().any(|c| !c.is_ascii_alphanumeric());
        stages.insert(usize::from(!document_like), documents);
    }
    let parts = parts(text);
    if let Some(generic) = generic(searcher, fields, &parts, &compact, core)? {
        // Nothing to rank by: every subject it names, the newest first. That is a large share of all
        // subjects, and listing the newest reads a date for each: those established in the latest two
        // years come first; when they fill the page, they are the newest of all, and only they are read.
        if let Some(newest) = newest_established.and_then(date_of_days) {
            let years = [newest.year(), newest.year() - 1];
            let recent: Box<dyn Query> = Box::new(BooleanQuery::new(
                years.iter().map(|y| (Occur::Should, term(fields.established_year, &y.to_string()))).collect(),
            ));
            let clauses = vec![(Occur::Must, generic.box_clone()), (Occur::Must, recent)];
            stages.push(Stage { order: Order::Newest, window: true, ..Stage::new(visible(clauses, None)) });
        }
        stages.push(Stage { order: Order::Newest, ..Stage::new(visible(vec![(Occur::Must, generic)], None)) });
    }
    // Parts (a place and a brand in pinyin, words of a name, or one fragment of a name): the subjects
    // that match every part in one of its ways, ranked by the whole as typed; only when none does, the
    // best matches of some of it. Requiring every part is also what keeps the common case cheap: an
    // intersection of a few posting lists rather than a union of every word and pair.
    let required: Vec<Box<dyn Query>> = parts.iter().filter_map(|p| part_query(fields, *p)).collect();
    let several = match parts[..] {
        [Part::Han(one)] => one.chars().count() >= 2 && required.len() == 1,
        [Part::Letters(one)] => one.len() >= 2 && required.len() == 1,
        _ => required.len() >= 2,
    };
    if several {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = required.iter().map(|q| (Occur::Must, q.box_clone())).collect();
        clauses.extend(rank);
        stages.push(Stage::new(visible(clauses, None)));
        names.extend(required.into_iter().map(|q| (Occur::Should, q)));
    }
    if let Some(halves) = halves(fields, &parts) {
        stages.push(Stage { partial: true, ..Stage::new(visible(halves, None)) });
    }
    if !names.is_empty() {
        stages.push(Stage { partial: several, ..Stage::new(visible(names, None)) });
    }
    if !texts.is_empty() {
        stages.push(Stage { partial: several, ..Stage::new(visible(texts, None)) });
    }
    Ok(stages)
}

/// The subjects whose whole name's pinyin starts like the query's, within one letter's difference
/// (two for long queries), filters and view applied: what "did you mean" offers when nothing matched.
/// `None` for a query too short (or too long) for a near reading to mean anything.
pub fn suggestions(
    fields: &Fields,
    normalized: &str,
    filters: &Filters,
    view: View,
) -> Result<Option<Box<dyn Query>>, SearchError> {
    let compact: String = normalized.chars().filter(|c| c.is_alphanumeric()).collect();
    let letters = analysis::syllables(core_name(&compact)).concat();
    if !(SUGGEST_MIN_LETTERS..=SUGGEST_MAX_LETTERS).contains(&letters.len()) {
        return Ok(None);
    }
    let reading = Term::from_field_text(fields.pinyin_whole, &letters);
    let mut ways: Vec<(Occur, Box<dyn Query>)> =
        vec![boosted(Box::new(FuzzyTermQuery::new_prefix(reading.clone(), 1, true)), 2.0)];
    if letters.len() >= SUGGEST_TWO_EDITS {
        ways.push((Occur::Should, Box::new(FuzzyTermQuery::new_prefix(reading, 2, true))));
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(BooleanQuery::new(ways)))];
    clauses.extend(filters.queries(fields)?.into_iter().map(|q| (Occur::Must, q)));
    if view == View::Public {
        clauses.push((Occur::MustNot, term(fields.subject_type, SubjectType::NaturalPerson.as_str())));
    }
    Ok(Some(Box::new(BooleanQuery::new(clauses))))
}

/// Shortest reading offered near names: fewer letters are within one edit of too many names to say anything.
const SUGGEST_MIN_LETTERS: usize = 6;
/// Longest reading looked up (the automaton's cost grows with it).
const SUGGEST_MAX_LETTERS: usize = 64;
/// Readings this long may be two edits away.
const SUGGEST_TWO_EDITS: usize = 12;

/// A long fragment of a name (a whole name typed with one character wrong, left out or added) that no
/// name holds every character pair of: the names holding every pair of its first half or of its second,
/// ranked by the pairs of the whole they hold and by reading like it. One wrong character breaks the
/// pairs of one half at most, and each half is an intersection of a few posting lists; the union of
/// every pair, the stage after this one, reads them all.
fn halves(fields: &Fields, parts: &[Part<'_>]) -> Option<Vec<(Occur, Box<dyn Query>)>> {
    let [Part::Han(one)] = parts else {
        return None;
    };
    let whole = core_name(one);
    let chars = whole.chars().count();
    if chars < HALVES_MIN_CHARS {
        return None;
    }
    let middle = whole.char_indices().nth(chars / 2).map_or(whole.len(), |(at, _)| at);
    let half = |text: &str| all_of(fields.name_grams, &char_grams(text));
    let either: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
        (Occur::Should, half(&whole[..middle])),
        (Occur::Should, half(&whole[middle..])),
    ]));
    let mut clauses = vec![(Occur::Must, either)];
    clauses.extend(char_grams(whole).iter().map(|pair| (Occur::Should, term_scored(fields.name_grams, pair))));
    clauses.push(constant(prefix(fields.pinyin_whole, &analysis::syllables(whole).concat()), PINYIN_WHOLE_PREFIX));
    Some(clauses)
}

/// Fragments at least this long are looked up by halves when no name holds all their pairs.
const HALVES_MIN_CHARS: usize = 6;

/// The query of a generic text (a legal form, words most names have), or `None` when some part of it
/// singles subjects out (then it is ranked like any other).
fn generic(
    searcher: &Searcher,
    fields: &Fields,
    parts: &[Part<'_>],
    compact: &str,
    core: &str,
) -> Result<Option<Box<dyn Query>>, SearchError> {
    if parts.is_empty() || !parts.iter().all(|p| matches!(p, Part::Han(_))) {
        return Ok(None);
    }
    if is_legal_form(compact) {
        return Ok(Some(term(fields.legal_forms, compact)));
    }
    let common = GENERIC_MIN_DOCS.max(searcher.num_docs() / GENERIC_SHARE);
    let mut analyzer = analysis::query_analyzer(searcher.index(), fields.name_words)?;
    let mut stream = analyzer.token_stream(core);
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    while let Some(token) = stream.next() {
        let word = Term::from_field_text(fields.name_words, &token.text);
        if searcher.doc_freq(&word)? < common {
            return Ok(None);
        }
        clauses.push((Occur::Must, Box::new(TermQuery::new(word, IndexRecordOption::Basic))));
    }
    if clauses.is_empty() {
        return Ok(None);
    }
    let form = compact[core.len()..].trim();
    if !form.is_empty() {
        clauses.push((Occur::Must, term(fields.legal_forms, form)));
    }
    Ok(Some(Box::new(BooleanQuery::new(clauses))))
}

fn prefix(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(PhrasePrefixQuery::new(vec![Term::from_field_text(field, value)]))
}

fn term_scored(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::WithFreqs))
}

/// Consecutive tokens in `field`, BM25-scored (one token: a term query).
fn phrase(field: Field, tokens: &[impl AsRef<str>]) -> Box<dyn Query> {
    match tokens {
        [one] => term_scored(field, one.as_ref()),
        _ => Box::new(PhraseQuery::new(tokens.iter().map(|t| Term::from_field_text(field, t.as_ref())).collect())),
    }
}

/// Letters typed as pinyin, every way they split: all the reading's syllable pairs in one name (a reading
/// of one syllable: that syllable), or the letters as one token when they are not pinyin. What the
/// stage that requires every part looks for; the broader stage after it matches phrases of syllables.
fn typed_pinyin_pairs(fields: &Fields, letters: &str) -> Box<dyn Query> {
    let readings = analysis::segmentations(letters)
        .iter()
        .map(|syllables| match syllables[..] {
            [one] => term_scored(fields.pinyin, one),
            _ => all_of(fields.pinyin_pairs, &analysis::syllable_pairs(syllables).collect::<Vec<_>>()),
        })
        .collect();
    any_reading(readings, || term_scored(fields.pinyin, letters))
}

/// Any of the queries of a text's readings; `none` when it has no reading.
fn any_reading(mut readings: Vec<Box<dyn Query>>, none: impl FnOnce() -> Box<dyn Query>) -> Box<dyn Query> {
    match readings.len() {
        0 => none(),
        1 => readings.remove(0),
        _ => Box::new(BooleanQuery::new(readings.into_iter().map(|q| (Occur::Should, q)).collect())),
    }
}

/// Letters typed as pinyin: a phrase of syllables for each way they split ("xian": 县 or 西安), or the
/// letters as one token when they are not pinyin (the Latin letters of a name, like "tcl").
fn typed_pinyin(field: Field, letters: &str) -> Box<dyn Query> {
    let readings = analysis::segmentations(letters).iter().map(|syllables| phrase(field, syllables)).collect();
    any_reading(readings, || term_scored(field, letters))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parts_split_at_spaces_punctuation_and_script_changes() {
        assert_eq!(parts("东莞 longchang"), [Part::Han("东莞"), Part::Letters("longchang")]);
        assert_eq!(parts("东莞longchang"), [Part::Han("东莞"), Part::Letters("longchang")]);
        assert_eq!(parts("xtswkj·郑州"), [Part::Letters("xtswkj"), Part::Han("郑州")]);
        assert_eq!(parts("tcl2024 科技"), [Part::Alphanumeric("tcl2024"), Part::Han("科技")]);
        assert_eq!(parts("  ,. "), []);
        assert_eq!(parts(&"a ".repeat(100)).len(), MAX_PARTS);
    }

    #[test]
    fn days_of_establishment_read_back_as_dates() {
        for date in ["1970-01-01", "1999-12-31", "2026-02-28"] {
            let date: NaiveDate = date.parse().unwrap();
            assert_eq!(date_of_days(super::super::document::days_since_epoch(date)), Some(date));
        }
    }

    #[test]
    fn character_pairs_of_a_fragment() {
        assert_eq!(char_grams("荣远房"), ["荣远", "远房"]);
        assert_eq!(char_grams("荣"), ["荣"]);
        assert_eq!(char_grams("强强强"), ["强强"], "a pair once");
    }

    proptest! {
        /// Any text: at most MAX_PARTS parts, each a non-empty piece of the text, of one script.
        #[test]
        fn parts_are_pieces_of_the_text(text in "\\PC{0,60}") {
            let found = parts(&text);
            prop_assert!(found.len() <= MAX_PARTS);
            for part in found {
                let (Part::Han(p) | Part::Letters(p) | Part::Alphanumeric(p)) = part;
                prop_assert!(!p.is_empty() && text.contains(p));
                prop_assert!(p.chars().all(char::is_alphanumeric));
            }
        }
    }
}
