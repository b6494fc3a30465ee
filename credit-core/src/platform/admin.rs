//! What the operator does to the service itself, as the audit log records it: API keys created and
//! revoked, signing keys made and rotated, a store restored from a backup. The keys and key files are
//! the server's (its configuration); the record of every act is the platform's, in the same closed
//! vocabulary as every other entry.

use super::{Platform, PlatformError, UseCase, permit};
use crate::actor::{Actor, Role};
use crate::audit::{AuditEvent, Operation};
use crate::engine::Engine;

/// One administrative act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminAct {
    ApiKeyCreated {
        id: String,
        role: Role,
        dept: Option<String>,
    },
    ApiKeyRevoked {
        id: String,
        role: Role,
        dept: Option<String>,
    },
    SigningInit {
        key_id: String,
    },
    SigningRotate {
        retired_key_id: String,
        key_id: String,
    },
    /// The store was restored from the backup at `from`.
    Restore {
        from: String,
    },
}

impl AdminAct {
    fn event(&self, actor: Actor) -> AuditEvent {
        let api_key = |operation, id: &str, role: Role, dept: &Option<String>| {
            let event = AuditEvent::new(actor.clone(), operation).detail("api_key", id).detail("role", role.as_str());
            match dept {
                Some(dept) => event.detail("dept", dept),
                None => event,
            }
        };
        match self {
            AdminAct::ApiKeyCreated { id, role, dept } => api_key(Operation::ApiKeyCreate, id, *role, dept),
            AdminAct::ApiKeyRevoked { id, role, dept } => api_key(Operation::ApiKeyRevoke, id, *role, dept),
            AdminAct::SigningInit { key_id } => {
                AuditEvent::new(actor.clone(), Operation::SigningInit).detail("key_id", key_id)
            }
            AdminAct::SigningRotate { retired_key_id, key_id } => {
                AuditEvent::new(actor.clone(), Operation::SigningRotate)
                    .detail("retired_key_id", retired_key_id)
                    .detail("key_id", key_id)
            }
            AdminAct::Restore { from } => AuditEvent::new(actor.clone(), Operation::Restore).detail("from", from),
        }
    }
}

impl<E: Engine> Platform<E> {
    /// Records administrative acts an admin (or the console) took, in one write.
    pub fn record_admin(&self, actor: &Actor, acts: &[AdminAct]) -> Result<(), PlatformError> {
        permit(actor, UseCase::Administer)?;
        if acts.is_empty() {
            return Ok(());
        }
        let events = acts.iter().map(|act| act.event(actor.clone())).collect();
        Ok(self.store.audit().append_all(events)?)
    }
}
