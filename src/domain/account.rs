//! Sign-in inputs: email address, password, project name.

use super::Invalid;

/// A trimmed, lower-cased email address of a plausible shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let s = input.trim().to_lowercase();
        if s.is_empty() {
            return Err(Invalid::new("Email is required."));
        }
        if s.chars().count() > 254 {
            return Err(Invalid::new("Email must be at most 254 characters."));
        }
        let shape_ok = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !s
                        .chars()
                        .any(|c| c.is_whitespace() || super::is_hidden_control(c))
            }
            None => false,
        };
        if !shape_ok {
            return Err(Invalid::new(
                "Enter an email address like name@example.com.",
            ));
        }
        Ok(EmailAddress(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password of acceptable length. `Debug` is redacted.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let n = input.chars().count();
        if n == 0 {
            return Err(Invalid::new("Password is required."));
        }
        if n < Self::MIN_CHARS {
            return Err(Invalid::new(format!(
                "Password must be at least {} characters.",
                Self::MIN_CHARS
            )));
        }
        if n > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "Password must be at most {} characters.",
                Self::MAX_CHARS
            )));
        }
        Ok(Password(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The name a person shows others (Team, the audit log): trimmed, at most 100 characters,
/// one line without control or text-direction characters; empty means none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse_optional(input: &str) -> Result<Option<Self>, Invalid> {
        let s = input.trim();
        if s.is_empty() {
            return Ok(None);
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "Display name must be at most {} characters (it has {}).",
                Self::MAX_CHARS,
                s.chars().count()
            )));
        }
        super::plain_line(s, "Display name")?;
        Ok(Some(DisplayName(s.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A project's display name: trimmed, 1 to 100 characters, one line without control or
/// text-direction characters (it is written into emails and every page's title).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectName(String);

impl ProjectName {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let s = input.trim();
        if s.is_empty() {
            return Err(Invalid::new("Project name is required."));
        }
        if s.chars().count() > 100 {
            return Err(Invalid::new("Project name must be at most 100 characters."));
        }
        super::plain_line(s, "Project name")?;
        Ok(ProjectName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What `callem user create` does with an email that already has an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingAccount {
    /// Add it to the project; its password stays.
    Add,
    /// Set the password read from stdin (ending its sessions), then add it.
    ResetPasswordAndAdd,
    /// Refuse: the account was made from an invitation link shown on screen, so whoever held
    /// the link chose its password, and nobody showed the address is theirs. Adopting it as
    /// it is would hand the operator's new user to them.
    Refuse,
}

impl ExistingAccount {
    pub fn decide(email_verified: bool, reset_password: bool) -> Self {
        match (reset_password, email_verified) {
            (true, _) => ExistingAccount::ResetPasswordAndAdd,
            (false, true) => ExistingAccount::Add,
            (false, false) => ExistingAccount::Refuse,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_optional_and_bounded() {
        assert_eq!(DisplayName::parse_optional("  ").unwrap(), None);
        assert_eq!(
            DisplayName::parse_optional(" Ada Lovelace ")
                .unwrap()
                .unwrap()
                .as_str(),
            "Ada Lovelace"
        );
        assert!(DisplayName::parse_optional(&"é".repeat(100)).is_ok());
        assert!(DisplayName::parse_optional(&"é".repeat(101)).is_err());
        assert!(DisplayName::parse_optional("a\u{7}b").is_err());
    }

    #[test]
    fn emails_are_trimmed_lowercased_and_shape_checked() {
        assert_eq!(
            EmailAddress::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@c.de",
            "a@b@c.de",
            "ada@.com",
            "ada\u{202E}@example.com",
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
    }

    #[test]
    fn passwords_need_twelve_characters_and_are_redacted() {
        assert!(Password::parse("").is_err());
        assert_eq!(
            Password::parse("short").unwrap_err().0,
            "Password must be at least 12 characters."
        );
        assert!(Password::parse("exactly12chr").is_ok());
        assert!(Password::parse(&"x".repeat(1025)).is_err());
        let p = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn display_names_are_optional_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse_optional("  ").unwrap(), None);
        assert_eq!(
            DisplayName::parse_optional(" Ada L. ")
                .unwrap()
                .unwrap()
                .as_str(),
            "Ada L."
        );
        assert!(DisplayName::parse_optional(&"n".repeat(101)).is_err());
        assert!(DisplayName::parse_optional("a\nb").is_err());
    }

    #[test]
    fn an_unverified_account_is_adopted_only_with_a_new_password() {
        assert_eq!(ExistingAccount::decide(true, false), ExistingAccount::Add);
        assert_eq!(
            ExistingAccount::decide(false, false),
            ExistingAccount::Refuse
        );
        assert_eq!(
            ExistingAccount::decide(false, true),
            ExistingAccount::ResetPasswordAndAdd
        );
        assert_eq!(
            ExistingAccount::decide(true, true),
            ExistingAccount::ResetPasswordAndAdd
        );
    }

    #[test]
    fn project_names_are_trimmed_and_bounded() {
        assert_eq!(ProjectName::parse("  Acme ").unwrap().as_str(), "Acme");
        assert!(ProjectName::parse("  ").is_err());
        assert!(ProjectName::parse(&"n".repeat(100)).is_ok());
        assert!(ProjectName::parse(&"n".repeat(101)).is_err());
        for bad in ["Acme\0", "Acme\r\nBcc: x@evil.test", "Acme\u{202E}"] {
            assert!(ProjectName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
