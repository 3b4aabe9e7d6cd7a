//! A member's role in a project and what it allows.

use std::fmt;
use std::str::FromStr;

use super::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Role {
    Owner,
    Admin,
    Developer,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Member => "member",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::Developer => "Developer",
            Role::Member => "Member",
        }
    }

    /// Sort order in lists: Owner first.
    pub fn rank(self) -> u8 {
        match self {
            Role::Owner => 0,
            Role::Admin => 1,
            Role::Developer => 2,
            Role::Member => 3,
        }
    }

    /// Owner and Admin create and revoke API keys; the others only read the list.
    pub fn can_manage_keys(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// Owner and Admin add, edit, disable, delete webhooks, reveal and roll their secrets and
    /// resend deliveries; the others only read the tab.
    pub fn can_manage_webhooks(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// Owner and Admin read the audit log; the others do not see it.
    pub fn can_read_audit_log(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// Everyone but Member may delete calls and manage knowledge.
    pub fn can_edit_data(self) -> bool {
        !matches!(self, Role::Member)
    }
}

impl FromStr for Role {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "developer" => Ok(Role::Developer),
            "member" => Ok(Role::Member),
            other => Err(Invalid::new(format!(
                "unknown role '{other}': use owner, admin, developer or member"
            ))),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_only_owner_and_admin_manage_keys() {
        for (s, r, manage) in [
            ("owner", Role::Owner, true),
            ("Admin", Role::Admin, true),
            ("developer", Role::Developer, false),
            ("member", Role::Member, false),
        ] {
            let parsed: Role = s.parse().unwrap();
            assert_eq!(parsed, r);
            assert_eq!(parsed.can_manage_keys(), manage);
            assert_eq!(parsed.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }
}
