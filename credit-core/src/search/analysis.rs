//! Tokens we make ourselves: pinyin of names (full and initials) and division prefixes. Word
//! segmentation (jieba) and CJK n-grams are tantivy tokenizers, registered in [`register`].

use std::rc::Rc;
use std::sync::LazyLock;

use pinyin::ToPinyin;

use super::normalize::normalize;
use tantivy::tokenizer::{NgramTokenizer, TextAnalyzer, TokenStream, Tokenizer, WhitespaceTokenizer};

pub const WORDS: &str = "credit_words";
pub const GRAMS: &str = "credit_grams";
pub const SPACED: &str = "credit_spaced";
/// Words split by [`distinct_words`] before indexing, separated by spaces: queries are split with
/// [`words`].
pub const PRESPLIT_WORDS: &str = "credit_presplit_words";

/// Readings of characters that differ inside these words from their usual reading (`pinyin` reads one
/// character at a time): the heteronyms common in organisation names and places.
const WORD_READINGS: &[(&str, &[&str])] = &[
    ("银行", &["yin", "hang"]),
    ("行业", &["hang", "ye"]),
    ("商行", &["shang", "hang"]),
    ("车行", &["che", "hang"]),
    ("重庆", &["chong", "qing"]),
    ("长沙", &["chang", "sha"]),
    ("长春", &["chang", "chun"]),
    ("长安", &["chang", "an"]),
    ("长城", &["chang", "cheng"]),
    ("长江", &["chang", "jiang"]),
    ("厦门", &["xia", "men"]),
    ("乐山", &["le", "shan"]),
    ("音乐", &["yin", "yue"]),
    ("朝阳", &["chao", "yang"]),
    ("蚌埠", &["beng", "bu"]),
    ("六安", &["lu", "an"]),
    ("单县", &["shan", "xian"]),
    ("大厦", &["da", "sha"]),
    ("重工", &["zhong", "gong"]),
    ("调味", &["tiao", "wei"]),
    ("传媒", &["chuan", "mei"]),
    ("藏族", &["zang", "zu"]),
    ("西藏", &["xi", "zang"]),
];

static FIRST_CHARS: LazyLock<Vec<char>> =
    LazyLock::new(|| WORD_READINGS.iter().filter_map(|(w, _)| w.chars().next()).collect());

/// Loads what analysis reads on first use (the word dictionary, the syllable table, the traditional
/// characters table), so that no query pays for it.
pub fn warm_up() {
    let _ = segment(&normalize("腾跃科技有限公司"));
    let _ = segmentations("tengyue");
    let _ = syllables("腾跃");
    let _ = normalize("騰躍");
}

/// Registers our analyzers on an index.
pub fn register(index: &tantivy::Index) -> tantivy::Result<()> {
    let tokenizers = index.tokenizers();
    tokenizers.register(WORDS, TextAnalyzer::from(words()));
    tokenizers.register(GRAMS, TextAnalyzer::from(NgramTokenizer::new(1, 2, false)?));
    tokenizers.register(SPACED, TextAnalyzer::from(WhitespaceTokenizer::default()));
    tokenizers.register(PRESPLIT_WORDS, TextAnalyzer::from(WhitespaceTokenizer::default()));
    Ok(())
}

/// The analyzer for what someone typed into `field`: the field's own, except for fields whose values
/// arrive as words already split ([`distinct_words`]), whose queries are split the same way.
pub fn query_analyzer(index: &tantivy::Index, field: tantivy::schema::Field) -> tantivy::Result<TextAnalyzer> {
    let schema = index.schema();
    let presplit = match schema.get_field_entry(field).field_type() {
        tantivy::schema::FieldType::Str(options) => {
            options.get_indexing_options().is_some_and(|o| o.tokenizer() == PRESPLIT_WORDS)
        }
        _ => false,
    };
    if presplit {
        return Ok(TextAnalyzer::from(words()));
    }
    index.tokenizer_for_field(field)
}

/// Word segmentation (jieba, search mode): the `WORDS` analyzer, and what record texts are split
/// with before their words are indexed once per subject.
pub fn words() -> tantivy_jieba::JiebaTokenizer {
    tantivy_jieba::JiebaTokenizer::new()
}

/// The words of a normalised text.
pub fn segment(normalized: &str) -> Rc<[String]> {
    let mut tokenizer = words();
    let mut stream = tokenizer.token_stream(normalized);
    let mut out = Vec::new();
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
    }
    out.into()
}

/// The words of record texts that recur across subjects (authorities, violation types, the wording of
/// facts), normalised and segmented once per builder rather than once per record.
#[derive(Debug, Default)]
pub struct WordCache {
    words: foldhash::HashMap<String, Rc<[String]>>,
}

impl WordCache {
    /// Enough for every authority, wording and piece of a document number of a province (about 40,000 in
    /// the 1 M fixtures); past it, the cache starts again.
    const MAX_ENTRIES: usize = 1 << 17;

    /// The words of `raw` (not yet normalised).
    pub fn words(&mut self, raw: &str) -> Rc<[String]> {
        if let Some(words) = self.words.get(raw) {
            return words.clone();
        }
        if self.words.len() >= Self::MAX_ENTRIES {
            self.words.clear();
        }
        let words = segment(&normalize(raw));
        self.words.insert(raw.to_string(), words.clone());
        words
    }

    /// The words of a normalised document number, the same as [`segment`] makes of it whole. Numbers
    /// are nearly all different, their pieces are not (`固隆市监罚`, `2025`, `123号`): jieba cuts the
    /// text between brackets and punctuation on its own anyway, so each piece is cut once and cached,
    /// and a bracket is a word of its own, as jieba makes it.
    pub fn document_words(&mut self, normalized: &str, out: &mut Vec<Rc<[String]>>) {
        let mut start = 0;
        for (at, c) in normalized.char_indices() {
            if !DOCUMENT_NUMBER_BREAKS.contains(&c) {
                continue;
            }
            if start < at {
                out.push(self.words(&normalized[start..at]));
            }
            let end = at + c.len_utf8();
            out.push(self.words(&normalized[at..end]));
            start = end;
        }
        if start < normalized.len() {
            out.push(self.words(&normalized[start..]));
        }
    }
}

/// Characters outside every class of characters jieba keeps together (CJK ideographs, ASCII letters and
/// digits, `+#&._%-`) that document numbers hold: where its segmentation of a text starts afresh.
const DOCUMENT_NUMBER_BREAKS: &[char] = &[
    '〔', '〕', '[', ']', '【', '】', '(', ')', '（', '）', '〈', '〉', '《', '》', '、', '，', ',', '：', ':', '；',
    ';', ' ', '　', '/', '／', '·',
];

/// The distinct words of a subject's record texts, separated by spaces (for a [`PRESPLIT_WORDS`]
/// field): the same authority or wording on many records says nothing more the second time, and
/// indexing it once is most of the saving in a full build. (A plain text rather than tantivy's
/// pre-tokenized value, which the writer serialises to JSON and parses back.)
pub fn distinct_words(texts: &[Rc<[String]>]) -> String {
    // The same cached text (an authority on every licence it issued) is skipped whole before its
    // words are looked at.
    let mut distinct: Vec<&Rc<[String]>> = Vec::with_capacity(texts.len());
    for text in texts {
        if !distinct.iter().any(|seen| Rc::ptr_eq(seen, text)) {
            distinct.push(text);
        }
    }
    let words = distinct.iter().map(|text| text.len()).sum();
    let mut seen = foldhash::HashSet::with_capacity_and_hasher(words, foldhash::fast::RandomState::default());
    let mut out = String::with_capacity(words * 8);
    for word in distinct.iter().flat_map(|words| words.iter()) {
        if !word.trim().is_empty() && seen.insert(word.as_str()) {
            push_token(&mut out, word);
        }
    }
    out
}

/// The syllables of a normalised text: one per Chinese character, and each run of ASCII letters or
/// digits as one "syllable"; anything else separates.
pub fn syllables(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut ascii = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphanumeric() {
            ascii.push(c);
            i += 1;
            continue;
        }
        if !ascii.is_empty() {
            out.push(std::mem::take(&mut ascii));
        }
        if FIRST_CHARS.contains(&c)
            && let Some((word, readings)) = WORD_READINGS.iter().find(|(w, _)| starts_with_at(&chars, i, w))
        {
            out.extend(readings.iter().map(|r| r.to_string()));
            i += word.chars().count();
            continue;
        }
        if let Some(reading) = c.to_pinyin() {
            // ü is typed as v on every pinyin keyboard (绿 → "lv").
            out.push(reading.plain().replace('ü', "v"));
        }
        i += 1;
    }
    if !ascii.is_empty() {
        out.push(ascii);
    }
    out
}

fn starts_with_at(chars: &[char], at: usize, word: &str) -> bool {
    let mut n = 0;
    for (offset, w) in word.chars().enumerate() {
        if chars.get(at + offset) != Some(&w) {
            return false;
        }
        n += 1;
    }
    n > 0
}

/// The pinyin field's text: one token per syllable (indexed with positions, so that what someone types
/// is found as a phrase of its syllables, wherever in the name it starts).
pub fn pinyin_tokens(syllables: &[String]) -> String {
    syllables.join(" ")
}

/// The syllable pairs field's text: each pair of neighbouring syllables as one token (`腾跃科技` →
/// "teng_yue yue_ke ke_ji"), without positions. A run of typed syllables is found as all its pairs in one
/// name: a few rare terms to intersect, where a phrase of common syllables reads long posting lists and
/// their positions.
pub fn pinyin_pairs(syllables: &[impl AsRef<str>]) -> String {
    let mut out = String::new();
    for pair in syllable_pairs(syllables) {
        push_token(&mut out, &pair);
    }
    out
}

/// The tokens of [`pinyin_pairs`], one by one: what a typed reading is looked up by.
pub fn syllable_pairs(syllables: &[impl AsRef<str>]) -> impl Iterator<Item = String> + '_ {
    syllables.windows(2).map(|pair| format!("{}_{}", pair[0].as_ref(), pair[1].as_ref()))
}

/// The initials field's text: each pair of neighbouring initials (`腾跃科技` → "ty yk kj"), with
/// positions. Pairs rather than letters: a phrase of single letters would walk posting lists that
/// hold most of the index.
pub fn initial_pairs(syllables: &[String]) -> String {
    let initials: Vec<char> = syllables.iter().filter_map(|s| s.chars().next()).collect();
    let mut out = String::new();
    for pair in initials.windows(2) {
        let token: String = pair.iter().collect();
        push_token(&mut out, &token);
    }
    out
}

/// Every syllable the index can hold for a Chinese character: the readings of the pinyin crate (with ü
/// typed as v), so what a query is split into is what names were read as.
static SYLLABLES: LazyLock<foldhash::HashSet<String>> = LazyLock::new(|| {
    let mut set: foldhash::HashSet<String> =
        ('\u{3400}'..='\u{9fff}').filter_map(|c| c.to_pinyin()).map(|p| p.plain().replace('ü', "v")).collect();
    set.extend(WORD_READINGS.iter().flat_map(|(_, r)| r.iter().map(|s| s.to_string())));
    set
});

/// Longest pinyin syllable ("zhuang", "shuang").
const MAX_SYLLABLE_LEN: usize = 6;
/// Enough readings of ambiguous typing ("xian": 县 or 西安) without letting a long string explode.
const MAX_SEGMENTATIONS: usize = 8;

/// The ways `letters` (lower-case ASCII) splits into pinyin syllables, fewest syllables first; empty when
/// it is not pinyin.
pub fn segmentations(letters: &str) -> Vec<Vec<&str>> {
    let n = letters.len();
    if n == 0 || !letters.bytes().all(|b| b.is_ascii_lowercase()) {
        return Vec::new();
    }
    // reachable[i]: the rest from i splits into syllables (so the search never walks a dead end).
    let mut reachable = vec![false; n + 1];
    reachable[n] = true;
    for i in (0..n).rev() {
        reachable[i] =
            (1..=MAX_SYLLABLE_LEN.min(n - i)).any(|len| reachable[i + len] && SYLLABLES.contains(&letters[i..i + len]));
    }
    let mut out = Vec::new();
    if reachable[0] {
        split(letters, &reachable, &mut out);
    }
    out.sort_by_key(Vec::len);
    out
}

/// Depth-first over the ways to split, longest syllable first, until [`MAX_SEGMENTATIONS`] are found.
/// An explicit stack rather than recursion: its depth follows the input (one frame per syllable), and
/// a thread's stack must not. Each frame is a position and the next syllable length to try there.
fn split<'a>(letters: &'a str, reachable: &[bool], out: &mut Vec<Vec<&'a str>>) {
    let n = letters.len();
    let longest = |at: usize| MAX_SYLLABLE_LEN.min(n - at);
    let mut frames: Vec<(usize, usize)> = vec![(0, longest(0))];
    let mut path: Vec<&'a str> = Vec::new();
    while let Some(frame) = frames.last_mut() {
        if out.len() == MAX_SEGMENTATIONS {
            return;
        }
        let (at, len) = *frame;
        if at == n {
            out.push(path.clone());
            frames.pop();
            path.pop();
            continue;
        }
        if len == 0 {
            frames.pop();
            path.pop();
            continue;
        }
        frame.1 = len - 1;
        let piece = &letters[at..at + len];
        if reachable[at + len] && SYLLABLES.contains(piece) {
            path.push(piece);
            frames.push((at + len, longest(at + len)));
        }
    }
}

/// The initials pairs of what someone typed as initials (`tykj` → "ty", "yk", "kj").
pub fn typed_initial_pairs(letters: &str) -> Vec<String> {
    let chars: Vec<char> = letters.chars().collect();
    chars.windows(2).map(|pair| pair.iter().collect()).collect()
}

fn push_token(out: &mut String, token: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(token);
}

/// Administrative endings of place names, longest first: a place is also typed without its ending
/// (`唐山市` as `唐山`, `汉沽管理区` as `汉沽`).
const PLACE_ENDINGS: &[&str] = &[
    "特别行政区",
    "工业园区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "管理区",
    "新区",
    "地区",
    "省",
    "市",
    "州",
    "盟",
    "县",
    "区",
    "旗",
];

/// How many administrative places the start of an address names at most (province, city, county).
const ADDRESS_PLACES: usize = 3;

/// The places field's text: the names of the subject's division and the divisions above it, and the
/// administrative places its address starts with, each whole and without its ending (an autonomous
/// prefecture or county also by its first two characters, as people say 延边 or 青龙), separated by
/// spaces. A handful of terms per subject, where pairs of characters of the whole address were dozens.
pub fn place_names(division: Option<&str>, normalized_address: Option<&str>) -> String {
    let table = crate::division::DivisionTable::builtin();
    let mut names: Vec<&str> =
        division.into_iter().flat_map(|code| table.ancestry(code)).map(|d| d.name.as_str()).collect();
    if let Some(address) = normalized_address {
        let mut rest = address.trim();
        for _ in 0..ADDRESS_PLACES {
            let Some(end) = place_end(rest) else { break };
            names.push(&rest[..end]);
            rest = &rest[end..];
        }
    }
    let mut out = String::new();
    let mut seen = foldhash::HashSet::default();
    for name in names {
        for form in place_forms(name) {
            if form.chars().count() >= 2 && seen.insert(form) {
                push_token(&mut out, form);
            }
        }
    }
    out
}

/// Where the first administrative place of `text` ends: after the first ending within its first eight
/// characters (a place name is never longer), or `None`.
fn place_end(text: &str) -> Option<usize> {
    let head: usize = text.char_indices().nth(8).map_or(text.len(), |(at, _)| at);
    PLACE_ENDINGS
        .iter()
        .filter_map(|ending| text[..head].find(ending).map(|at| (at, at + ending.len())))
        // The earliest place; at one start, the longest ending (自治州 rather than 州).
        .min_by_key(|&(at, end)| (at, std::cmp::Reverse(end)))
        .map(|(_, end)| end)
        .filter(|&end| text[..end].chars().count() >= 2)
}

/// A place name whole, without its ending, and (autonomous ones) by its first two characters.
fn place_forms(name: &str) -> impl Iterator<Item = &str> {
    let bare = PLACE_ENDINGS.iter().find_map(|ending| name.strip_suffix(ending)).filter(|b| b.chars().count() >= 2);
    let autonomous = ["自治州", "自治县", "自治旗"]
        .iter()
        .any(|e| name.ends_with(e))
        .then(|| name.char_indices().nth(2).map(|(at, _)| &name[..at]))
        .flatten();
    std::iter::once(name).chain(bare).chain(autonomous)
}

/// A division code and its province and city prefixes: `130272` → `13`, `1302`, `130272`.
pub fn division_prefixes(code: &str) -> Vec<String> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return vec![code.to_string()];
    }
    vec![code[..2].to_string(), code[..4].to_string(), code.to_string()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syllables_read_words_before_characters() {
        assert_eq!(syllables("腾跃科技"), ["teng", "yue", "ke", "ji"]);
        assert_eq!(syllables("中国银行重庆分行"), ["zhong", "guo", "yin", "hang", "chong", "qing", "fen", "xing"]);
        assert_eq!(syllables("abc科技123"), ["abc", "ke", "ji", "123"]);
    }

    #[test]
    fn names_index_syllables_and_initial_pairs() {
        let s = syllables("腾跃科技");
        assert_eq!(pinyin_tokens(&s), "teng yue ke ji");
        assert_eq!(initial_pairs(&s), "ty yk kj");
        assert_eq!(initial_pairs(&syllables("腾")), "", "single initials match too much");
        assert_eq!(typed_initial_pairs("tykj"), ["ty", "yk", "kj"]);
        assert_eq!(pinyin_pairs(&s), "teng_yue yue_ke ke_ji");
        assert_eq!(pinyin_pairs(&syllables("腾")), "");
    }

    #[test]
    fn typed_pinyin_splits_every_way_it_reads() {
        let tengyue = segmentations("tengyuekeji");
        assert_eq!(tengyue[0], ["teng", "yue", "ke", "ji"]);
        assert!(tengyue.contains(&vec!["teng", "yu", "e", "ke", "ji"]), "every reading: {tengyue:?}");
        let xian = segmentations("xian");
        assert_eq!(xian[0], ["xian"], "fewest syllables first");
        assert!(xian.contains(&vec!["xi", "an"]), "西安 as well as 县: {xian:?}");
        assert!(segmentations("fangan").contains(&vec!["fang", "an"]));
        assert!(segmentations("fangan").contains(&vec!["fan", "gan"]));
        assert_eq!(segmentations("lvse"), [vec!["lv", "se"]], "ü typed as v");
        assert!(segmentations("tcl").is_empty(), "not pinyin");
        assert!(segmentations("").is_empty());
        // A long ambiguous string stays bounded.
        assert!(segmentations(&"xian".repeat(12)).len() <= MAX_SEGMENTATIONS);
    }

    #[test]
    fn segmentation_depth_does_not_follow_the_input() {
        // One syllable per letter ("a" is a syllable): the recursive version overflowed a thread's stack.
        let long = "a".repeat(200_000);
        let ways = segmentations(&long);
        assert_eq!(ways.len(), 1);
        assert_eq!(ways[0].len(), 200_000);
        let mixed = "zhuangxian".repeat(2_000);
        assert!(!segmentations(&mixed).is_empty());
    }

    #[test]
    fn document_numbers_cut_by_pieces_as_jieba_cuts_them_whole() {
        let mut cache = WordCache::default();
        for number in [
            "固隆市监罚〔2025〕2号",
            "唐唐环许〔2024〕123号",
            "京市监罚(2024)第0012号",
            "沪卫健罚【2023】7号、补",
            "粤食许:jy14401050012345",
            "〔2024〕",
            "号",
            "",
        ] {
            let number = normalize(number);
            let mut pieces = Vec::new();
            cache.document_words(&number, &mut pieces);
            let cut: Vec<String> = pieces.iter().flat_map(|p| p.iter().cloned()).collect();
            assert_eq!(cut, segment(&number).to_vec(), "{number}");
        }
        let mut twice = Vec::new();
        cache.document_words("固隆市监罚〔2026〕2号", &mut twice);
        let mut again = Vec::new();
        cache.document_words("固隆市监罚〔2026〕3号", &mut again);
        assert!(Rc::ptr_eq(&twice[0], &again[0]), "the authority's piece is cut once");
    }

    #[test]
    fn distinct_words_keep_the_first_of_each() {
        let authority: Rc<[String]> = Rc::from(vec!["市场".to_string(), "监督".to_string()]);
        let facts: Rc<[String]> = Rc::from(vec!["监督".to_string(), " ".to_string(), "检查".to_string()]);
        let words = distinct_words(&[authority.clone(), facts, authority]);
        assert_eq!(words, "市场 监督 检查");
    }

    #[test]
    fn places_are_the_divisions_and_the_address_whole_and_bare() {
        let places = place_names(Some("130272"), Some("河北省唐山市汉沽管理区工业大道1821号"));
        let places: Vec<&str> = places.split(' ').collect();
        for wanted in ["唐山市", "唐山", "汉沽管理区", "汉沽", "河北省", "河北"] {
            assert!(places.contains(&wanted), "{wanted}: {places:?}");
        }
        assert!(!places.iter().any(|p| p.contains("工业")), "streets are not places: {places:?}");
        let autonomous = place_names(None, Some("吉林省延边朝鲜族自治州和龙市文化路1号"));
        let autonomous: Vec<&str> = autonomous.split(' ').collect();
        for wanted in ["延边朝鲜族自治州", "延边", "和龙市", "和龙", "吉林"] {
            assert!(autonomous.contains(&wanted), "{wanted}: {autonomous:?}");
        }
        assert_eq!(place_names(None, Some("工业大道1821号")), "", "no administrative place");
        assert_eq!(place_names(Some("999999"), None), "");
    }

    #[test]
    fn divisions_index_their_prefixes() {
        assert_eq!(division_prefixes("130272"), ["13", "1302", "130272"]);
    }
}
