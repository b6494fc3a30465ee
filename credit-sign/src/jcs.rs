//! RFC 8785 JSON Canonicalization Scheme (JCS), for the values this platform signs.
//!
//! Object members sorted by the UTF-16 code units of their names, no whitespace, strings escaped as
//! ECMAScript's `JSON.stringify` does (which is what `serde_json` writes). Numbers are restricted to
//! integers of at most 2^53 in magnitude, whose JCS form is their plain decimal digits: amounts and
//! dates in reports are strings, so no float ever needs ECMAScript's number formatting.

use serde_json::Value;

/// The largest integer every JSON implementation (IEEE 754 doubles) holds exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JcsError {
    #[error("{path}: the number {number} is not an integer of at most 2^53 - 1 in magnitude")]
    UnsupportedNumber { path: String, number: String },
}

/// The canonical form of `value`.
pub fn canonical(value: &Value) -> Result<String, JcsError> {
    let mut out = String::with_capacity(1024);
    write_canonical(value, &mut out)?;
    Ok(out)
}

/// Appends the canonical form of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut String) -> Result<(), JcsError> {
    if write_value(value, out) {
        return Ok(());
    }
    // Rare: walk again to name the offending number's place.
    Err(unsupported_number(value, &mut String::from("$")).expect("write_value refused a number"))
}

fn is_safe(n: &serde_json::Number) -> bool {
    n.as_u64().is_some_and(|u| u <= MAX_SAFE_INTEGER)
        || n.as_i64().is_some_and(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER)
}

/// Writes `value`; `false` when it holds a number JCS cannot carry here.
fn write_value(value: &Value, out: &mut String) -> bool {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if !is_safe(n) {
                return false;
            }
            out.push_str(&n.to_string());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !write_value(item, out) {
                    return false;
                }
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut names: Vec<&String> = members.keys().collect();
            // ASCII names compare the same in bytes as in UTF-16 code units; others by code units
            // (RFC 8785 §3.2.3: a supplementary character sorts before U+E000..U+FFFF).
            names.sort_unstable_by(|a, b| {
                if a.is_ascii() && b.is_ascii() { a.cmp(b) } else { a.encode_utf16().cmp(b.encode_utf16()) }
            });
            out.push('{');
            for (i, name) in names.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(name, out);
                out.push(':');
                if !write_value(&members[name], out) {
                    return false;
                }
            }
            out.push('}');
        }
    }
    true
}

fn unsupported_number(value: &Value, path: &mut String) -> Option<JcsError> {
    let mut inside = |child: &Value, step: String| {
        let len = path.len();
        path.push_str(&step);
        let found = unsupported_number(child, path);
        path.truncate(len);
        found
    };
    match value {
        Value::Number(n) if !is_safe(n) => {
            Some(JcsError::UnsupportedNumber { path: path.clone(), number: n.to_string() })
        }
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| inside(item, format!("[{i}]"))),
        Value::Object(members) => members.iter().find_map(|(name, child)| inside(child, format!(".{name}"))),
        _ => None,
    }
}

/// ECMAScript string serialisation: `"` `\` and the control characters escaped, short forms where
/// they exist, `\u00xx` in lower-case hex otherwise; everything else as is (UTF-8).
pub(crate) fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let mut run_start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[run_start..i]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{byte:04x}"));
        } else {
            out.push_str(escape);
        }
        run_start = i + 1;
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn sorts_members_and_drops_whitespace() {
        let value = json!({ "b": [1, { "z": null, "a": true }], "a": "x", "": -3 });
        assert_eq!(canonical(&value).unwrap(), r#"{"":-3,"a":"x","b":[1,{"a":true,"z":null}]}"#);
    }

    /// RFC 8785 §3.2.3: names sort by UTF-16 code units, so a name above the BMP (a surrogate pair,
    /// 0xD83D…) sorts before U+FB33 although its code point is larger.
    #[test]
    fn sorts_by_utf16_code_units_not_code_points() {
        let value = json!({ "\u{fb33}": 1, "\u{1f600}": 2, "\r": 3, "1": 4, "\u{80}": 5, "ö": 6 });
        assert_eq!(
            canonical(&value).unwrap(),
            "{\"\\r\":3,\"1\":4,\"\u{80}\":5,\"ö\":6,\"\u{1f600}\":2,\"\u{fb33}\":1}"
        );
    }

    #[test]
    fn escapes_like_ecmascript() {
        let value = json!("\u{0}\u{8}\t\n\u{b}\u{c}\r\u{1f}\"\\/\u{7f}€汉");
        assert_eq!(canonical(&value).unwrap(), "\"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\\\"\\\\/\u{7f}€汉\"");
    }

    #[test]
    fn refuses_floats_and_unsafe_integers_naming_the_place() {
        let error = canonical(&json!({ "a": [0, 1.5] })).unwrap_err();
        assert_eq!(error, JcsError::UnsupportedNumber { path: "$.a[1]".into(), number: "1.5".into() });
        assert!(canonical(&json!(9_007_199_254_740_992_u64)).is_err());
        assert_eq!(canonical(&json!(-9_007_199_254_740_991_i64)).unwrap(), "-9007199254740991");
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-(MAX_SAFE_INTEGER as i64)..=MAX_SAFE_INTEGER as i64).prop_map(|n| json!(n)),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The canonical text is JSON that means the same value, and canonicalising it again changes
        /// nothing: what a verifier re-canonicalises is byte for byte what was signed.
        #[test]
        fn canonical_text_round_trips_and_is_a_fixed_point(value in json_value()) {
            let text = canonical(&value).unwrap();
            let parsed: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&parsed, &value);
            prop_assert_eq!(canonical(&parsed).unwrap(), text);
        }
    }
}
