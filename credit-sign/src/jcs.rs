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
    let mut out = String::new();
    write_value(value, &mut out, &mut String::from("$"))?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut String, path: &mut String) -> Result<(), JcsError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let safe = n.as_u64().is_some_and(|u| u <= MAX_SAFE_INTEGER)
                || n.as_i64().is_some_and(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER);
            if !safe {
                return Err(JcsError::UnsupportedNumber { path: path.clone(), number: n.to_string() });
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
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                write_value(item, out, path)?;
                path.truncate(len);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut names: Vec<&String> = members.keys().collect();
            names.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, name) in names.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(name, out);
                out.push(':');
                let len = path.len();
                path.push('.');
                path.push_str(name);
                write_value(&members[name], out, path)?;
                path.truncate(len);
            }
            out.push('}');
        }
    }
    Ok(())
}

/// ECMAScript string serialisation: `"` `\` and the control characters escaped, short forms where
/// they exist, `\u00xx` in lower-case hex otherwise; everything else as is (UTF-8).
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
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
