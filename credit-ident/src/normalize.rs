//! Turning an identifier as people type or paste it into its canonical form.

/// Trims, maps full-width forms to ASCII, upper-cases, and drops spaces and hyphens (of every width).
///
/// Idempotent: `normalize_code(&normalize_code(s)) == normalize_code(s)`.
pub fn normalize_code(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        let c = to_half_width(c);
        if c.is_whitespace() || is_dash(c) || is_invisible(c) {
            continue;
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Full-width ASCII variants (U+FF01–U+FF5E) and the ideographic space to their ASCII forms.
pub fn to_half_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}' | '\u{FE63}')
}

/// Characters that copy-paste from documents brings along and nobody means.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_spaces_hyphens_and_case() {
        assert_eq!(normalize_code(" ９１１１００００６０００３７３４１ｌ "), "91110000600037341L");
        assert_eq!(normalize_code("60003734-1"), "600037341");
        assert_eq!(normalize_code("6000 3734－1"), "600037341");
        assert_eq!(normalize_code("\u{FEFF}11010519491231002x"), "11010519491231002X");
        assert_eq!(normalize_code("\u{3000}"), "");
    }
}
