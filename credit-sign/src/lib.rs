//! Signed credit reports without the store: canonical JSON (RFC 8785), the platform's ed25519 keys and
//! the key sets it publishes, and offline verification. The server signs with it; the SDK, the `credit`
//! tool and anyone else verify with it (or with `docs/reports.md` and any ed25519 library).

pub mod jcs;
pub mod keys;
pub mod report_file;

pub use keys::{KeyError, KeySet, KeyStatus, PublishedKey, SigningKey};
pub use report_file::{REPORT_FORMAT, VerifiedReport, VerifyError, sign_report, verify_report};
