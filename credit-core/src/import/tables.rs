//! Column aliases and enumeration mappings: data (`data/columns.toml`, `data/enums.toml`), compiled in
//! and replaceable by configuration.

use std::collections::BTreeMap;

// Looked up for every enumerated cell of every row: a fast hash (tables are our own data).
use foldhash::{HashMap, HashMapExt};
use std::sync::LazyLock;

use super::ImportKind;

const COLUMNS_TOML: &str = include_str!("../../data/columns.toml");
const ENUMS_TOML: &str = include_str!("../../data/enums.toml");

static BUILTIN: LazyLock<ImportTables> =
    LazyLock::new(|| ImportTables::from_toml(COLUMNS_TOML, ENUMS_TOML).expect("compiled-in import tables are valid"));

#[derive(Debug, thiserror::Error)]
#[error("import tables: {0}")]
pub struct TablesError(String);

/// Aliases of every kind and the enumeration maps.
#[derive(Debug, Clone)]
pub struct ImportTables {
    /// Per kind: lower-case column name → canonical field.
    columns: HashMap<ImportKind, HashMap<String, String>>,
    /// Per enumeration: delivered value → canonical value.
    enums: HashMap<String, HashMap<String, String>>,
}

type Sections = BTreeMap<String, BTreeMap<String, Vec<String>>>;

impl ImportTables {
    pub fn builtin() -> &'static ImportTables {
        &BUILTIN
    }

    pub fn from_toml(columns: &str, enums: &str) -> Result<ImportTables, TablesError> {
        let columns: Sections = toml::from_str(columns).map_err(|e| TablesError(format!("columns: {e}")))?;
        let enums: Sections = toml::from_str(enums).map_err(|e| TablesError(format!("enums: {e}")))?;
        let mut by_kind = HashMap::new();
        for kind in ImportKind::ALL {
            let section = columns
                .get(kind.as_str())
                .ok_or_else(|| TablesError(format!("columns: no [{}] section", kind.as_str())))?;
            let mut aliases = HashMap::new();
            for (field, names) in section {
                for name in names {
                    if let Some(previous) = aliases.insert(name.to_lowercase(), field.clone()) {
                        return Err(TablesError(format!(
                            "columns: [{}] {name} names both {previous} and {field}",
                            kind.as_str()
                        )));
                    }
                }
            }
            by_kind.insert(kind, aliases);
        }
        let enums = enums
            .into_iter()
            .map(|(name, values)| {
                let map = values
                    .into_iter()
                    .flat_map(|(canonical, spellings)| spellings.into_iter().map(move |s| (s, canonical.clone())))
                    .collect();
                (name, map)
            })
            .collect();
        Ok(ImportTables { columns: by_kind, enums })
    }

    /// The canonical field a column of `kind` feeds, if any.
    pub fn field(&self, kind: ImportKind, column: &str) -> Option<&str> {
        self.columns.get(&kind)?.get(&column.trim().to_lowercase()).map(String::as_str)
    }

    /// The canonical value of `value` in enumeration `name`, or `None` when unknown.
    pub fn canonical(&self, name: &str, value: &str) -> Option<&str> {
        self.enums.get(name)?.get(value.trim()).map(String::as_str)
    }

    /// The procedure a penalty stored before the field existed was decided by, when one of its kept
    /// columns (`extra`) named it: how stored records are re-tiered without being rewritten.
    pub fn procedure_in_extras(&self, extra: &BTreeMap<String, String>) -> Option<crate::model::Procedure> {
        extra.iter().find_map(|(column, value)| {
            (self.field(ImportKind::Penalty, column)? == "procedure")
                .then(|| self.canonical("procedure", value).and_then(crate::model::Procedure::parse))
                .flatten()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_vintages_and_case_insensitive() {
        let t = ImportTables::builtin();
        assert_eq!(t.field(ImportKind::Penalty, "cf_wsh"), Some("document_number"));
        assert_eq!(t.field(ImportKind::Penalty, "CF_XDR_SFZ"), Some("person_id"));
        assert_eq!(t.field(ImportKind::Penalty, "CF_XZJG"), Some("authority"));
        assert_eq!(t.field(ImportKind::Penalty, "CF_CFLB2"), Some("penalty_types"));
        assert_eq!(t.field(ImportKind::Subject, "TYSHXYDM"), Some("uscc"));
        assert_eq!(t.field(ImportKind::List, "MD_LX"), Some("list_type"));
        assert_eq!(t.field(ImportKind::Penalty, "NO_SUCH"), None);
    }

    #[test]
    fn enumerations() {
        let t = ImportTables::builtin();
        assert_eq!(t.canonical("subject_status", "在业"), Some("存续"));
        assert_eq!(t.canonical("list_type", "失信被执行人"), Some("COURT_DISHONEST_DEBTOR"));
        assert_eq!(t.canonical("record_status", "已移出"), Some("removed"));
        assert_eq!(t.canonical("subject_status", "神秘"), None);
    }

    #[test]
    fn a_column_naming_two_fields_is_an_error() {
        let columns = "[subject]\nname=[\"A\"]\nuscc=[\"a\"]\n[penalty]\n[licence]\n[list]\n";
        let err = ImportTables::from_toml(columns, "").unwrap_err().to_string();
        assert!(err.contains("names both"), "{err}");
    }
}
