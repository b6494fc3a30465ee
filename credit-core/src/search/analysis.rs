//! Tokens we make ourselves: pinyin of names (full and initials) and division prefixes. Word
//! segmentation (jieba) and CJK n-grams are tantivy tokenizers, registered in [`register`].

use std::sync::LazyLock;

use pinyin::ToPinyin;
use tantivy::tokenizer::{NgramTokenizer, TextAnalyzer, WhitespaceTokenizer};

pub const WORDS: &str = "credit_words";
pub const GRAMS: &str = "credit_grams";
pub const SPACED: &str = "credit_spaced";

/// Longest run of syllables indexed as one pinyin token (腾跃科技 → "tengyuekeji").
const MAX_SYLLABLE_RUN: usize = 4;
/// Longest run of initials indexed as one token.
const MAX_INITIAL_RUN: usize = 6;

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

/// Registers our analyzers on an index.
pub fn register(index: &tantivy::Index) -> tantivy::Result<()> {
    let tokenizers = index.tokenizers();
    tokenizers.register(WORDS, TextAnalyzer::from(tantivy_jieba::JiebaTokenizer::new()));
    tokenizers.register(GRAMS, TextAnalyzer::from(NgramTokenizer::new(1, 2, false)?));
    tokenizers.register(SPACED, TextAnalyzer::from(WhitespaceTokenizer::default()));
    Ok(())
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

/// Space-separated pinyin tokens of a name: every run of up to four syllables, joined
/// (`腾跃科技` → "teng tengyue tengyueke …").
pub fn pinyin_runs(syllables: &[String]) -> String {
    let mut out = String::new();
    for start in 0..syllables.len() {
        let mut token = String::new();
        for syllable in syllables[start..].iter().take(MAX_SYLLABLE_RUN) {
            token.push_str(syllable);
            push_token(&mut out, &token);
        }
    }
    out
}

/// Space-separated initials tokens: every run of two to six initials (`腾跃科技` → "ty tyk tykj yk …").
pub fn initial_runs(syllables: &[String]) -> String {
    let initials: Vec<char> = syllables.iter().filter_map(|s| s.chars().next()).collect();
    let mut out = String::new();
    for start in 0..initials.len() {
        let mut token = String::new();
        for (n, c) in initials[start..].iter().take(MAX_INITIAL_RUN).enumerate() {
            token.push(*c);
            if n >= 1 {
                push_token(&mut out, &token);
            }
        }
    }
    out
}

fn push_token(out: &mut String, token: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(token);
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
    fn runs_cover_full_pinyin_and_initials() {
        let s = syllables("腾跃科技");
        let full: Vec<&str> = pinyin_runs(&s).leak().split(' ').collect();
        assert!(full.contains(&"tengyue") && full.contains(&"tengyuekeji") && full.contains(&"keji"));
        let initials: Vec<&str> = initial_runs(&s).leak().split(' ').collect();
        assert!(initials.contains(&"ty") && initials.contains(&"tykj") && initials.contains(&"kj"));
        assert!(!initials.contains(&"t"), "single initials match too much");
    }

    #[test]
    fn divisions_index_their_prefixes() {
        assert_eq!(division_prefixes("130272"), ["13", "1302", "130272"]);
    }
}
