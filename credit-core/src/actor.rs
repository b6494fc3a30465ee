//! Who acts: one [`Actor`] for every use case of the [`crate::platform::Platform`], whichever door it
//! came through (gRPC, a command on the data directory, an approval system embedding this crate).

use serde::{Deserialize, Serialize};

/// What an actor may do (DOMAIN.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// No key: public view only.
    Public,
    /// A department delivering records: the public view, and writes of its own department's records.
    Provider,
    /// Regulators and approval systems: the regulator view, joint checks and feedback.
    Regulator,
    /// Everything, administration included.
    Admin,
    /// A credit subject itself, bound to its unified code: its own full record, its own repair
    /// applications and cases, and the public view of everyone else.
    Subject,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Public, Role::Provider, Role::Regulator, Role::Admin, Role::Subject];

    pub fn parse(value: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Provider => "provider",
            Role::Regulator => "regulator",
            Role::Admin => "admin",
            Role::Subject => "subject",
        }
    }

    /// May see the regulator view (unmasked data) and run joint checks.
    pub fn is_regulator(self) -> bool {
        matches!(self, Role::Regulator | Role::Admin)
    }
}

/// Who acts: an API key (id, role, department), an operator at the console of the data directory, or
/// an approval system embedding the library under its own name. The audit log writes it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// A person or system acting through the key (an operator's login, an approval system's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The unified code a `subject` key is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_code: Option<String>,
}

impl Actor {
    /// Nobody in particular: the public.
    pub fn anonymous() -> Actor {
        Actor { key_id: None, role: Role::Public, department: None, name: None, subject_code: None }
    }

    /// An embedded command run on the data directory itself by `operator` (who ran it is the
    /// operating system's to say): an admin.
    pub fn console(operator: Option<&str>) -> Actor {
        Actor {
            key_id: operator.map(|o| format!("console:{o}")),
            role: Role::Admin,
            department: None,
            name: None,
            subject_code: None,
        }
    }

    /// Whether a `subject` key is bound to a subject known by `identifiers` (codes compared exactly,
    /// upper-case).
    pub fn is_subject_of<'a>(&self, mut identifiers: impl Iterator<Item = &'a str>) -> bool {
        self.role == Role::Subject
            && self.subject_code.as_deref().is_some_and(|code| identifiers.any(|i| i.eq_ignore_ascii_case(code)))
    }

    /// How logs name the actor.
    pub fn label(&self) -> &str {
        self.key_id.as_deref().or(self.name.as_deref()).unwrap_or("anonymous")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_have_one_spelling_that_serde_agrees_with() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{}\"", role.as_str()));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn actors_serialise_as_the_audit_log_always_had_them() {
        let actor = Actor {
            key_id: Some("k1".into()),
            role: Role::Regulator,
            department: Some("市财政局".into()),
            name: None,
            subject_code: None,
        };
        let text = serde_json::to_string(&actor).unwrap();
        assert_eq!(text, r#"{"key_id":"k1","role":"regulator","department":"市财政局"}"#);
        assert_eq!(serde_json::from_str::<Actor>(&text).unwrap(), actor);
    }
}
