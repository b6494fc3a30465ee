//! Masking personal data for views that must not show it in full (DOMAIN.md §8).

/// An ID number with only the first 6 and last 4 characters shown: `110105********002X`. Values too
/// short to keep anything hidden are masked whole.
pub fn mask_id_number(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    let hidden = chars.len() - 10;
    chars[..6].iter().chain(std::iter::repeat_n(&'*', hidden)).chain(&chars[chars.len() - 4..]).collect()
}

/// A natural person's name with only the family name shown: `张*`, `欧阳**`-style lengths kept.
pub fn mask_name(value: &str) -> String {
    let mut chars = value.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_keep_the_first_six_and_last_four() {
        assert_eq!(mask_id_number("11010519491231002X"), "110105********002X");
        assert_eq!(mask_id_number("110105491231002"), "110105*****1002");
        assert_eq!(mask_id_number("1234"), "****");
    }

    #[test]
    fn names_keep_the_first_character() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name(""), "");
    }
}
