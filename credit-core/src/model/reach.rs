//! What a joint check needs of the subjects a subject reaches (DOMAIN.md §6): the list entries of the
//! subject itself and of every subject linked to it by a related-person role, kept ready beside the
//! subject's page by the batch that changes any of them, so that a check reads one page.

use serde::{Deserialize, Serialize};

use super::{IdentifierKind, ListEntryIndex, RelatedRole, Subject, SubjectId, SubjectType};
use crate::privacy::mask_id_number;

/// A subject as a check names it. Natural persons' ID numbers are masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedSubject {
    pub id: SubjectId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub subject_type: SubjectType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
}

impl NamedSubject {
    pub fn of(subject: &Subject) -> NamedSubject {
        let code = match subject.subject_type {
            SubjectType::NaturalPerson => subject.identifier(IdentifierKind::Ric).map(mask_id_number),
            _ => subject.primary_code().map(str::to_string),
        };
        NamedSubject {
            id: subject.id,
            name: subject.name.clone(),
            code,
            subject_type: subject.subject_type,
            division: subject.division.clone(),
            provisional: subject.provisional,
        }
    }
}

/// How a list entry reaches a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "relation", rename_all = "snake_case")]
pub enum Link {
    /// The subject is listed itself.
    #[serde(rename = "self")]
    Listed,
    /// A person holding `role` in the organisation is listed.
    RelatedPerson { role: RelatedRole },
    /// The person holds `role` in a listed organisation.
    Organisation { role: RelatedRole },
}

/// The list entries (in force or not: a check asks about a date) that reach one subject, grouped by
/// the subject listed, in the order a check considers them: the subject itself, then for an
/// organisation its related persons in the order it names them, for a person the organisations where
/// it holds a role in id order. Groups without entries are left out; a subject nothing reaches has no
/// page at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reach {
    pub groups: Vec<ReachGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachGroup {
    pub link: Link,
    /// The listed subject, for every group but the subject's own (`None`: the subject itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<NamedSubject>,
    pub entries: Vec<ListEntryIndex>,
}
