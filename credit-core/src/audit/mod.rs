//! The tamper-evident audit log: who did what to whom, why, when, and how it ended.
//!
//! Its values (the closed [`Operation`] vocabulary, [`AuditEvent`], entries, checkpoints) live in
//! [`crate::model::audit`], below the store; the chain (group commit, queries, checkpoints,
//! verification) is a key space of the store, [`crate::store::audit_chain`]; each domain builds the
//! events of its own use cases (`AuditEvent::check` in `checks`, `AuditEvent::case_step` in `cases`,
//! `AuditEvent::import` in `import`). This module gathers them under one name.

pub use crate::model::audit::*;
pub use crate::store::audit_chain::{AuditError, AuditLog, AuditQuery, Break, BreakKind, Intact, read_checkpoints};
