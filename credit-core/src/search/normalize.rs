//! The one normalisation applied to everything indexed and to every query, so both meet in the middle:
//! NFKC (full-width digits and letters become ASCII), lower case, traditional → simplified.

use std::sync::LazyLock;

use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;
use unicode_normalization::{IsNormalized, UnicodeNormalization};

static T2S: LazyLock<OpenCC> =
    LazyLock::new(|| OpenCC::from_config(BuiltinConfig::T2s).expect("the compiled-in t2s dictionaries load"));

/// The CJK characters (radicals, symbols and punctuation, kana, extension A and the basic block) that the
/// conversion changes on their own. A text
/// with none of them is left as it is: the dictionary walk is the costly part of indexing, and most
/// text delivered here is simplified already. (Phrase-only conversions of characters that are simplified
/// on their own, such as 穿著 → 穿着, are skipped alike at index and at query time, so both still meet.)
static CONVERTIBLE: LazyLock<Vec<bool>> = LazyLock::new(|| {
    (CJK_FIRST..=CJK_LAST)
        .map(|code| {
            char::from_u32(code).is_some_and(|c| {
                let mut one = [0u8; 4];
                let one = c.encode_utf8(&mut one);
                T2S.convert(one) != *one
            })
        })
        .collect()
});
const CJK_FIRST: u32 = 0x2E80;
const CJK_LAST: u32 = 0x9FFF;

fn convertible(c: char) -> bool {
    let code = c as u32;
    if code < CJK_FIRST {
        // Latin, digits, general punctuation: nothing the converter changes.
        return false;
    }
    if code > CJK_LAST {
        // Past the table (compatibility ideographs, extension B and on): let the converter decide.
        return true;
    }
    CONVERTIBLE[(code - CJK_FIRST) as usize]
}

/// Legal-form endings, longest first: a name's distinctive part is what comes before them.
const LEGAL_FORMS: [&str; 7] = ["股份有限公司", "有限责任公司", "有限公司", "分公司", "合作社", "集团", "公司"];

pub fn normalize(text: &str) -> String {
    if let Some(simple) = normalize_simple(text) {
        return simple;
    }
    let folded: String = if unicode_normalization::is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        // NFKC already (most delivered text): only the case to fold, without the decomposition walk.
        text.chars().flat_map(char::to_lowercase).collect()
    } else {
        text.nfkc().flat_map(char::to_lowercase).collect()
    };
    if !folded.chars().any(convertible) {
        // Nothing to convert (codes, pinyin, numbers, simplified text): the dictionary walk is the costly part.
        return folded;
    }
    T2S.convert(&folded)
}

/// Text of ASCII and the basic block of CJK ideographs only (most names, addresses and numbers): NFKC
/// leaves both as they are and only ASCII has case, so one pass does what [`normalize`]'s general path
/// does in three. `None` when some character needs the general path.
fn normalize_simple(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut convert = false;
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        if !('\u{4E00}'..='\u{9FFF}').contains(&c) {
            return None;
        }
        convert |= convertible(c);
        out.push(c);
    }
    Some(if convert { T2S.convert(&out) } else { out })
}

/// The legal forms a normalised name ends with (`…有限责任公司`: `有限责任公司` and `公司`).
pub fn legal_forms_ending(normalized: &str) -> impl Iterator<Item = &'static str> + '_ {
    let name = normalized.trim_end();
    LEGAL_FORMS.iter().copied().filter(move |form| name.len() > form.len() && name.ends_with(form))
}

/// Whether `text` is a legal form alone (`有限公司`).
pub fn is_legal_form(text: &str) -> bool {
    LEGAL_FORMS.contains(&text.trim())
}

/// A normalised name without its legal-form endings (`腾跃科技有限公司` → `腾跃科技`); the name itself when
/// nothing would be left.
pub fn core_name(normalized: &str) -> &str {
    let mut core = normalized.trim();
    while !LEGAL_FORMS.contains(&core)
        && let Some(form) = LEGAL_FORMS.iter().find(|f| core.len() > f.len() && core.ends_with(*f))
    {
        let rest = core[..core.len() - form.len()].trim_end();
        if LEGAL_FORMS.contains(&rest) {
            break;
        }
        core = rest;
    }
    core
}

/// A code or document number as a key: normalised, with spaces, hyphens and brackets dropped, upper case
/// (codes are stored upper case).
pub fn code_key(text: &str) -> String {
    code_key_of_normalized(&normalize(text))
}

/// [`code_key`] of a text already normalised.
pub fn code_key_of_normalized(normalized: &str) -> String {
    normalized.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_uppercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn width_case_and_script_fold_together() {
        assert_eq!(normalize("ＡＢＣ１２３"), "abc123");
        assert_eq!(normalize("騰躍科技有限公司"), "腾跃科技有限公司");
        assert_eq!(normalize("唐山市榮遠房地產開發有限公司"), "唐山市荣远房地产开发有限公司");
    }

    #[test]
    fn legal_forms_are_cut_from_the_end_only() {
        assert_eq!(core_name("腾跃科技集团有限公司"), "腾跃科技");
        assert_eq!(core_name("有限公司"), "有限公司");
        assert_eq!(core_name("公司之家餐饮店"), "公司之家餐饮店");
    }

    #[test]
    fn code_keys_ignore_punctuation_and_width() {
        assert_eq!(code_key("京市监罚〔2024〕１２３号"), "京市监罚2024123号");
        assert_eq!(code_key("９１１３-0272 867247399r"), "91130272867247399R");
    }

    #[test]
    fn simplified_text_is_not_converted_and_traditional_text_is() {
        assert!(!"唐山市荣远房地产开发有限公司".chars().any(convertible));
        assert!("榮遠".chars().all(convertible));
        assert_eq!(normalize("阳泉市隆合餐饮管理有限公司"), "阳泉市隆合餐饮管理有限公司");
        // CJK punctuation alone does not send a text through the converter.
        assert!(!"阳市监罚〔2026〕91号、罚款。".chars().any(convertible));
        assert_eq!(normalize("陽泉市隆合餐飲管理有限公司"), "阳泉市隆合餐饮管理有限公司");
        // A phrase with one traditional character is still converted as a phrase.
        assert_eq!(normalize("臺灣"), T2S.convert("臺灣"));
    }

    proptest! {
        #[test]
        fn the_shortcut_changes_nothing_in_simplified_and_traditional_names(
            name in "[\\u{4e00}-\\u{9fa5}]{1,12}",
        ) {
            let folded: String = name.nfkc().flat_map(char::to_lowercase).collect();
            prop_assert_eq!(normalize(&name), T2S.convert(&folded));
        }

        #[test]
        fn the_one_pass_path_agrees_with_the_general_one(
            text in "[\\u{0}-\\u{7f}\\u{4e00}-\\u{9fff}]{0,24}",
        ) {
            let folded: String = text.nfkc().flat_map(char::to_lowercase).collect();
            let general = if folded.chars().any(convertible) { T2S.convert(&folded) } else { folded };
            prop_assert_eq!(normalize_simple(&text), Some(general));
        }

        #[test]
        fn normalizing_twice_changes_nothing(text in "\\PC{0,20}") {
            let once = normalize(&text);
            prop_assert_eq!(normalize(&once), once.clone());
        }
    }
}
