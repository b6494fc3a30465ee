//! Who may do what: one table for every use case, consulted by the use cases themselves and by the
//! doors that refuse a caller early (before its request takes a worker), so the two cannot disagree.

use super::PlatformError;
use crate::actor::{Actor, Role};

/// A use case, or a part of one, that not every role may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UseCase {
    /// The regulator view of subjects, records, searches and reports.
    RegulatorView,
    Check,
    BatchCheck,
    SubmitFeedback,
    GetStatistics,
    /// The change feed.
    Follow,
    /// A subject's records listed, and a record's history (any key).
    ListRecords,
    GetRecordHistory,
    OpenCase,
    DecideCase,
    GetCase,
    ListCases,
    /// An import by the platform's operator (a provider imports for its own department: see
    /// [`super::Platform::import`]).
    Import,
    QueryAuditLog,
    Reindex,
    Backup,
    CreateApiKey,
    ListApiKeys,
    RevokeApiKey,
    /// Recording administrative acts ([`super::AdminAct`]).
    Administer,
    /// Applying another store's write commands ([`super::Platform::replay`]).
    Replay,
}

impl UseCase {
    /// The name refusals give (the RPC's, where there is one).
    pub fn name(self) -> &'static str {
        match self {
            UseCase::RegulatorView => "the regulator view",
            UseCase::Check => "Check",
            UseCase::BatchCheck => "BatchCheck",
            UseCase::SubmitFeedback => "SubmitFeedback",
            UseCase::GetStatistics => "GetStatistics",
            UseCase::Follow => "Follow",
            UseCase::ListRecords => "ListRecords",
            UseCase::GetRecordHistory => "GetRecordHistory",
            UseCase::OpenCase => "OpenCase",
            UseCase::DecideCase => "DecideCase",
            UseCase::GetCase => "GetCase",
            UseCase::ListCases => "ListCases",
            UseCase::Import => "Import",
            UseCase::QueryAuditLog => "QueryAuditLog",
            UseCase::Reindex => "Reindex",
            UseCase::Backup => "Backup",
            UseCase::CreateApiKey => "CreateApiKey",
            UseCase::ListApiKeys => "ListApiKeys",
            UseCase::RevokeApiKey => "RevokeApiKey",
            UseCase::Administer => "administration",
            UseCase::Replay => "replay",
        }
    }

    /// Whether `role` may reach the use case at all (the use case may refuse more, by department, by
    /// record, by purpose).
    pub fn allows(self, role: Role) -> bool {
        match self {
            UseCase::RegulatorView
            | UseCase::Check
            | UseCase::BatchCheck
            | UseCase::SubmitFeedback
            | UseCase::GetStatistics
            | UseCase::Follow => role.is_regulator(),
            UseCase::ListRecords
            | UseCase::GetRecordHistory
            | UseCase::OpenCase
            | UseCase::DecideCase
            | UseCase::GetCase
            | UseCase::ListCases => role != Role::Public,
            UseCase::Import
            | UseCase::QueryAuditLog
            | UseCase::Reindex
            | UseCase::Backup
            | UseCase::CreateApiKey
            | UseCase::ListApiKeys
            | UseCase::RevokeApiKey
            | UseCase::Administer
            | UseCase::Replay => role == Role::Admin,
        }
    }
}

/// Refuses `actor` when its role may not reach `use_case`: unauthenticated when it is anonymous,
/// forbidden otherwise.
pub fn permit(actor: &Actor, use_case: UseCase) -> Result<(), PlatformError> {
    if use_case.allows(actor.role) {
        return Ok(());
    }
    let what = use_case.name();
    if actor.role == Role::Public {
        return Err(PlatformError::Unauthenticated { what });
    }
    Err(PlatformError::Forbidden { what, role: actor.role })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_refuses_what_a_role_may_not_and_names_it() {
        let actor = |role| Actor {
            key_id: (role != Role::Public).then(|| "k".into()),
            role,
            department: None,
            name: None,
            subject_code: None,
        };
        assert!(permit(&actor(Role::Regulator), UseCase::Check).is_ok());
        assert!(permit(&actor(Role::Admin), UseCase::Check).is_ok(), "admins are regulators too");
        assert!(matches!(
            permit(&actor(Role::Provider), UseCase::Check),
            Err(PlatformError::Forbidden { what: "Check", role: Role::Provider })
        ));
        assert!(matches!(permit(&actor(Role::Public), UseCase::GetCase), Err(PlatformError::Unauthenticated { .. })));
        assert!(permit(&actor(Role::Provider), UseCase::GetCase).is_ok());
        for use_case in
            [UseCase::Reindex, UseCase::Backup, UseCase::QueryAuditLog, UseCase::CreateApiKey, UseCase::Replay]
        {
            assert!(permit(&actor(Role::Regulator), use_case).is_err(), "{use_case:?}");
            assert!(permit(&actor(Role::Admin), use_case).is_ok(), "{use_case:?}");
        }
    }
}
