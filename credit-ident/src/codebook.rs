//! The reference tables identifier validation consults: divisions and the authority/category pairs of
//! GB 32100. Both are data, compiled in, and replaceable by configuration.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::division::{DivisionTable, DivisionTableError};

const BUILTIN_CATEGORIES_TSV: &str = include_str!("../data/uscc_categories.tsv");

static BUILTIN_CATEGORIES: LazyLock<CategoryTable> = LazyLock::new(|| {
    CategoryTable::from_tsv(BUILTIN_CATEGORIES_TSV).expect("the compiled-in category table is well formed")
});

static BUILTIN: LazyLock<Codebook> =
    LazyLock::new(|| Codebook { divisions: DivisionTable::builtin().clone(), categories: BUILTIN_CATEGORIES.clone() });

/// Registration authorities (position 1 of a unified code) and the organisation categories under each.
#[derive(Debug, Clone, Default)]
pub struct CategoryTable {
    authorities: HashMap<char, String>,
    categories: HashMap<(char, char), String>,
}

impl CategoryTable {
    /// Parses `authority<TAB>authority_name<TAB>category<TAB>category_name` rows after a header;
    /// lines starting with `#` are comments.
    pub fn from_tsv(text: &str) -> Result<CategoryTable, DivisionTableError> {
        let mut table = CategoryTable::default();
        let mut seen_header = false;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let raw = raw.trim_end_matches('\r');
            if raw.starts_with('#') || raw.trim().is_empty() {
                continue;
            }
            if !seen_header {
                seen_header = true;
                continue;
            }
            let fields: Vec<&str> = raw.split('\t').map(str::trim).collect();
            let [authority, authority_name, category, category_name] = fields[..] else {
                return Err(DivisionTableError {
                    line,
                    reason: format!("expected 4 tab-separated fields, found {}", fields.len()),
                });
            };
            let (Some(a), Some(c)) = (single_char(authority), single_char(category)) else {
                return Err(DivisionTableError {
                    line,
                    reason: "authority and category must be one character each".to_string(),
                });
            };
            table.authorities.insert(a, authority_name.to_string());
            table.categories.insert((a, c), category_name.to_string());
        }
        Ok(table)
    }

    pub fn authority_name(&self, authority: char) -> Option<&str> {
        self.authorities.get(&authority).map(String::as_str)
    }

    pub fn category_name(&self, authority: char, category: char) -> Option<&str> {
        self.categories.get(&(authority, category)).map(String::as_str)
    }

    /// Every known (authority, category) pair, sorted, for generators and documentation.
    pub fn pairs(&self) -> Vec<(char, char)> {
        let mut pairs: Vec<_> = self.categories.keys().copied().collect();
        pairs.sort_unstable();
        pairs
    }
}

fn single_char(s: &str) -> Option<char> {
    let mut chars = s.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

/// Both reference tables, as one value to pass to validation.
#[derive(Debug, Clone)]
pub struct Codebook {
    pub divisions: DivisionTable,
    pub categories: CategoryTable,
}

impl Codebook {
    /// The tables compiled into the binary.
    pub fn builtin() -> &'static Codebook {
        &BUILTIN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_pairs() {
        let table = &Codebook::builtin().categories;
        assert_eq!(table.category_name('9', '2'), Some("个体工商户"));
        assert_eq!(table.category_name('5', '3'), Some("基金会"));
        assert_eq!(table.authority_name('N'), Some("农业"));
        assert_eq!(table.category_name('9', '9'), None);
        assert!(table.pairs().contains(&('A', '1')));
    }

    #[test]
    fn malformed_rows_are_rejected_with_line() {
        let err = CategoryTable::from_tsv("h\th\th\th\n9\tx\t1\n").unwrap_err();
        assert_eq!(err.line, 2);
    }
}
