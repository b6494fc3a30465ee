//! The signed report file: what exactly is signed, and how anyone checks it.
//!
//! ```text
//! signed  = JCS({"format": F, "key_id": K, "report": R})          RFC 8785 canonical JSON, UTF-8
//! digest  = BLAKE3-256(signed)                                   32 bytes
//! sig     = Ed25519-Sign(private key K, digest)                  the message is the 32 digest bytes
//! code    = Crockford base32 of the first 60 bits of digest, as XXXX-XXXX-XXXX
//! file    = JCS({"digest": hex(digest), "format": F, "key_id": K, "report": R,
//!                "signature": hex(sig), "verification_code": code}) + "\n"
//! ```
//!
//! A verifier checks, in order: the file is exactly its own canonical form (so no byte outside the
//! signed values can change either), the digest, the verification code, the key (published, by id),
//! the signature, and finally that `report.valid_until` has not passed. `docs/reports.md` gives the
//! same recipe for other languages.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::jcs::{JcsError, write_canonical, write_string};
use crate::keys::{KeySet, SignatureCheck, SigningKey, hex, unhex};

/// The format of report files this crate writes and reads.
pub const REPORT_FORMAT: &str = "credit-report/1";

/// Why a report file did not verify. [`VerifyError::kind`] names each case for scripts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not a report file: {0}")]
    Malformed(String),
    #[error("the file was altered: it is not in its canonical form (RFC 8785 JSON and one final newline)")]
    NotCanonical,
    #[error("digest mismatch: the report's content does not match the signed digest")]
    DigestMismatch,
    #[error("verification code mismatch: {found} is not the code of the digest ({expected})")]
    VerificationCodeMismatch { found: String, expected: String },
    #[error("unknown key {0:?}: not among the published verifying keys")]
    UnknownKey(String),
    #[error("bad signature: key {0} did not sign this digest")]
    BadSignature(String),
    #[error("expired: the report was valid until {0}")]
    Expired(String),
}

impl VerifyError {
    pub fn kind(&self) -> &'static str {
        match self {
            VerifyError::Malformed(_) => "malformed",
            VerifyError::NotCanonical => "not_canonical",
            VerifyError::DigestMismatch => "digest_mismatch",
            VerifyError::VerificationCodeMismatch { .. } => "verification_code_mismatch",
            VerifyError::UnknownKey(_) => "unknown_key",
            VerifyError::BadSignature(_) => "bad_signature",
            VerifyError::Expired(_) => "expired",
        }
    }
}

/// A report that verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedReport {
    pub report: Value,
    pub key_id: String,
    pub digest: String,
    pub verification_code: String,
    pub valid_until: DateTime<Utc>,
}

/// The BLAKE3 digest of the signed part.
pub fn signed_digest(format: &str, key_id: &str, report: &Value) -> Result<[u8; 32], JcsError> {
    let mut report_text = String::new();
    write_canonical(report, &mut report_text)?;
    Ok(digest_of(format, key_id, &report_text))
}

/// `JCS({"format", "key_id", "report"})` from the report's canonical text: the members' names are
/// ASCII and already in order, so joining canonical parts is the canonical whole.
fn digest_of(format: &str, key_id: &str, report_text: &str) -> [u8; 32] {
    let mut signed = String::with_capacity(report_text.len() + 64);
    signed.push_str("{\"format\":");
    write_string(format, &mut signed);
    signed.push_str(",\"key_id\":");
    write_string(key_id, &mut signed);
    signed.push_str(",\"report\":");
    signed.push_str(report_text);
    signed.push('}');
    *blake3::hash(signed.as_bytes()).as_bytes()
}

/// The file's bytes (canonical, members in order) from its parts.
fn file_text(format: &str, key_id: &str, report_text: &str, digest: &str, signature: &str, code: &str) -> String {
    let mut file = String::with_capacity(report_text.len() + 320);
    file.push_str("{\"digest\":");
    write_string(digest, &mut file);
    file.push_str(",\"format\":");
    write_string(format, &mut file);
    file.push_str(",\"key_id\":");
    write_string(key_id, &mut file);
    file.push_str(",\"report\":");
    file.push_str(report_text);
    file.push_str(",\"signature\":");
    write_string(signature, &mut file);
    file.push_str(",\"verification_code\":");
    write_string(code, &mut file);
    file.push_str("}\n");
    file
}

/// Signs `report` (which must carry `valid_until`, RFC 3339) and returns the file's bytes.
pub fn sign_report(report: &Value, key: &SigningKey) -> Result<Vec<u8>, JcsError> {
    let mut report_text = String::with_capacity(4096);
    write_canonical(report, &mut report_text)?;
    let digest = digest_of(REPORT_FORMAT, key.id(), &report_text);
    let signature = hex(&key.sign(&digest));
    let file = file_text(REPORT_FORMAT, key.id(), &report_text, &hex(&digest), &signature, &verification_code(&digest));
    Ok(file.into_bytes())
}

/// Verifies a report file against published keys, at `now`.
pub fn verify_report(file: &[u8], keys: &KeySet, now: DateTime<Utc>) -> Result<VerifiedReport, VerifyError> {
    let malformed = |reason: &str| VerifyError::Malformed(reason.to_string());
    let text = std::str::from_utf8(file).map_err(|_| malformed("not UTF-8"))?;
    let value: Value = serde_json::from_str(text).map_err(|e| VerifyError::Malformed(format!("not JSON: {e}")))?;
    let Value::Object(fields) = &value else {
        return Err(malformed("not a JSON object"));
    };
    let expected_fields = ["digest", "format", "key_id", "report", "signature", "verification_code"];
    if fields.len() != expected_fields.len() || !expected_fields.iter().all(|f| fields.contains_key(*f)) {
        return Err(VerifyError::Malformed(format!("expected exactly the fields {}", expected_fields.join(", "))));
    }
    let format = string_field(fields, "format")?;
    let key_id = string_field(fields, "key_id")?;
    let digest_field = string_field(fields, "digest")?;
    let signature_field = string_field(fields, "signature")?;
    let code = string_field(fields, "verification_code")?;
    let mut report_text = String::with_capacity(text.len());
    write_canonical(&fields["report"], &mut report_text).map_err(|e| VerifyError::Malformed(e.to_string()))?;
    if text != file_text(format, key_id, &report_text, digest_field, signature_field, code) {
        return Err(VerifyError::NotCanonical);
    }
    if format != REPORT_FORMAT {
        return Err(VerifyError::Malformed(format!("format {format:?} is not {REPORT_FORMAT}")));
    }
    let report = &fields["report"];
    let digest = digest_of(format, key_id, &report_text);
    if digest_field != hex(&digest) {
        return Err(VerifyError::DigestMismatch);
    }
    let expected_code = verification_code(&digest);
    if code != expected_code {
        return Err(VerifyError::VerificationCodeMismatch { found: code.to_string(), expected: expected_code });
    }
    let signature: [u8; 64] = unhex(signature_field)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| malformed("signature: not 64 bytes of lower-case hex"))?;
    match keys.verify(key_id, &digest, &signature) {
        Ok(()) => {}
        Err(SignatureCheck::UnknownKey) => return Err(VerifyError::UnknownKey(key_id.to_string())),
        Err(SignatureCheck::BadSignature) => return Err(VerifyError::BadSignature(key_id.to_string())),
    }
    let valid_until = report
        .get("valid_until")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .ok_or_else(|| malformed("report.valid_until: missing or not RFC 3339"))?
        .with_timezone(&Utc);
    if now > valid_until {
        return Err(VerifyError::Expired(valid_until.to_rfc3339()));
    }
    Ok(VerifiedReport {
        report: report.clone(),
        key_id: key_id.to_string(),
        digest: hex(&digest),
        verification_code: code.to_string(),
        valid_until,
    })
}

fn string_field<'v>(fields: &'v Map<String, Value>, name: &str) -> Result<&'v str, VerifyError> {
    fields[name].as_str().ok_or_else(|| VerifyError::Malformed(format!("{name}: not a string")))
}

/// A code a person can read out or type: the first 60 bits of the digest in Crockford's base32 (no
/// I, L, O or U), grouped by four.
pub fn verification_code(digest: &[u8; 32]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bits = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) >> 4;
    let mut code = String::with_capacity(14);
    for i in 0..12 {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        let shift = 55 - 5 * i;
        code.push(ALPHABET[((bits >> shift) & 31) as usize] as char);
    }
    code
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::keys::KeyStatus;

    fn report() -> Value {
        json!({
            "report_number": "CR-20261124-000001",
            "valid_until": "2026-12-24T00:00:00Z",
            "subject": { "name": "北京腾跃科技有限公司", "code": "91110108MA01A2B3C4" },
            "penalties": [{ "document_number": "京市监罚〔2026〕12号", "fine": "2.5" }],
        })
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap()
    }

    #[test]
    fn a_signed_report_verifies_and_names_its_key_and_code() {
        let key = SigningKey::from_secret(&[1; 32]);
        let keys = KeySet::default().with(key.published());
        let file = sign_report(&report(), &key).unwrap();
        let verified = verify_report(&file, &keys, now()).unwrap();
        assert_eq!(verified.report, report());
        assert_eq!(verified.key_id, key.id());
        assert_eq!(verified.verification_code.len(), 14);
        assert!(file.ends_with(b"}\n"));
    }

    /// The file assembled from canonical parts is byte for byte the generic canonical form of the
    /// whole file object, so other implementations that canonicalise the object get the same bytes.
    #[test]
    fn the_assembled_file_is_the_canonical_form_of_the_file_object() {
        let key = SigningKey::from_secret(&[8; 32]);
        let mut report = report();
        report["notes"] = json!(["引号\"与\\反斜杠\n换行\u{1}", "\u{1f600} 和 \u{fb33}"]);
        report["\u{fb33}"] = json!(1);
        report["\u{1f600}"] = json!({ "z": [true, null, -7], "a": "" });
        let file = sign_report(&report, &key).unwrap();
        let value: Value = serde_json::from_slice(&file).unwrap();
        let expected = crate::jcs::canonical(&value).unwrap() + "\n";
        assert_eq!(String::from_utf8(file).unwrap(), expected);
    }

    /// Every byte of the file is covered: changing any one of them fails verification.
    #[test]
    fn any_changed_byte_fails_verification() {
        let key = SigningKey::from_secret(&[2; 32]);
        let keys = KeySet::default().with(key.published());
        let file = sign_report(&report(), &key).unwrap();
        for position in 0..file.len() {
            for flip in [0x01u8, 0x20] {
                let mut altered = file.clone();
                altered[position] ^= flip;
                assert!(
                    verify_report(&altered, &keys, now()).is_err(),
                    "byte {position} xor {flip:#x} still verified: {:?}",
                    String::from_utf8_lossy(&altered)
                );
            }
        }
        let mut longer = file.clone();
        longer.push(b'\n');
        assert_eq!(verify_report(&longer, &keys, now()), Err(VerifyError::NotCanonical));
        assert_eq!(verify_report(&file[..file.len() - 1], &keys, now()), Err(VerifyError::NotCanonical));
    }

    #[test]
    fn each_failure_is_named() {
        let key = SigningKey::from_secret(&[3; 32]);
        let other = SigningKey::from_secret(&[4; 32]);
        let keys = KeySet::default().with(key.published());
        let file = sign_report(&report(), &key).unwrap();
        let text = String::from_utf8(file.clone()).unwrap();

        assert_eq!(verify_report(&file, &KeySet::default(), now()).unwrap_err().kind(), "unknown_key");
        let changed = text.replace("2.5", "0.5");
        assert_eq!(verify_report(changed.as_bytes(), &keys, now()).unwrap_err().kind(), "digest_mismatch");
        assert_eq!(
            verify_report(&file, &keys, Utc.with_ymd_and_hms(2026, 12, 25, 0, 0, 0).unwrap()).unwrap_err().kind(),
            "expired"
        );

        // Signed by another key under this key's id: the digest matches, the signature does not.
        let forged = String::from_utf8(sign_report(&report(), &other).unwrap()).unwrap().replace(other.id(), key.id());
        let value: Value = serde_json::from_str(&forged).unwrap();
        let digest = signed_digest(REPORT_FORMAT, key.id(), &value["report"]).unwrap();
        let forged = forged
            .replace(value["digest"].as_str().unwrap(), &hex(&digest))
            .replace(value["verification_code"].as_str().unwrap(), &verification_code(&digest));
        assert_eq!(verify_report(forged.as_bytes(), &keys, now()).unwrap_err().kind(), "bad_signature");
    }

    #[test]
    fn a_retired_key_still_verifies_what_it_signed() {
        let old = SigningKey::from_secret(&[5; 32]);
        let new = SigningKey::from_secret(&[6; 32]);
        let file = sign_report(&report(), &old).unwrap();
        let mut retired = old.published();
        retired.status = KeyStatus::Retired;
        let keys = KeySet { keys: vec![retired] }.with(new.published());
        assert_eq!(verify_report(&file, &keys, now()).unwrap().key_id, old.id());
    }

    #[test]
    fn verification_codes_use_crockford_base32() {
        let mut digest = [0u8; 32];
        digest[..8].copy_from_slice(&0xffff_ffff_ffff_ffffu64.to_be_bytes());
        assert_eq!(verification_code(&digest), "ZZZZ-ZZZZ-ZZZZ");
        assert_eq!(verification_code(&[0; 32]), "0000-0000-0000");
        digest[..8].copy_from_slice(&(1u64 << 4).to_be_bytes());
        assert_eq!(verification_code(&digest), "0000-0000-0001");
    }

    mod fuzz {
        //! Report files as anyone may hand them in for verification: random bytes, and signed files with
        //! bytes changed, cut or added. Verification never panics, and only the untouched file verifies.
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn any_bytes_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let keys = KeySet::default().with(SigningKey::from_secret(&[1; 32]).published());
                prop_assert!(verify_report(&bytes, &keys, now()).is_err());
            }

            #[test]
            fn mutated_signed_files_do_not_verify(at in any::<prop::sample::Index>(), byte: u8, cut in 0usize..3) {
                let key = SigningKey::from_secret(&[1; 32]);
                let keys = KeySet::default().with(key.published());
                let file = sign_report(&report(), &key).unwrap();
                let mut mutated = file.clone();
                let i = at.index(file.len());
                match cut {
                    0 => mutated[i] = byte,
                    1 => mutated.truncate(i),
                    _ => mutated.insert(i, byte),
                }
                let verdict = verify_report(&mutated, &keys, now());
                // A change that leaves the JSON value the same (whitespace) still verifies: the signature
                // covers the canonical form. Anything else must not.
                if let Ok(verified) = verdict {
                    let same = serde_json::from_slice::<Value>(&mutated).ok() == serde_json::from_slice::<Value>(&file).ok();
                    prop_assert!(same, "a changed report verified: {:?}", verified.report);
                }
            }
        }
    }
}
