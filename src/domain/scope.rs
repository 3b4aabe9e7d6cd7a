//! What a key may do: **Full access** (the default, and every key made before scopes existed),
//! **Read only** (GET only), or **Custom** per resource — Calls: none, read, or read and delete;
//! Knowledge: none, read, or read and write. Stored as TEXT in the spelling `callem keys create --scope` takes: `full`, `read`, or a
//! list such as `calls:read,knowledge:write`.

use std::fmt;
use std::str::FromStr;

use super::Invalid;

/// How far a key may go with one resource. Each level includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    None,
    Read,
    /// Calls: read and delete. Knowledge: read and write (create and delete).
    Write,
}

/// What a `/v1` operation works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Calls,
    Knowledge,
}

/// What an operation needs of the key's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Need {
    pub resource: Resource,
    pub access: Access,
}

impl Need {
    pub const fn new(resource: Resource, access: Access) -> Self {
        Need { resource, access }
    }

    /// Every need a `/v1` operation can have: the kinds of operation usage is counted by.
    pub const ALL: [Need; 4] = [
        Need::new(Resource::Calls, Access::Read),
        Need::new(Resource::Calls, Access::Write),
        Need::new(Resource::Knowledge, Access::Read),
        Need::new(Resource::Knowledge, Access::Write),
    ];

    /// As `--scope` spells the level that meets it: `calls:read`, `calls:delete`,
    /// `knowledge:read`, `knowledge:write` (`None` access is no need: `calls:none`).
    pub fn spelling(self) -> &'static str {
        use Access::{None as N, Read as R, Write as W};
        match (self.resource, self.access) {
            (Resource::Calls, N) => "calls:none",
            (Resource::Calls, R) => "calls:read",
            (Resource::Calls, W) => "calls:delete",
            (Resource::Knowledge, N) => "knowledge:none",
            (Resource::Knowledge, R) => "knowledge:read",
            (Resource::Knowledge, W) => "knowledge:write",
        }
    }

    /// The kind of request, in words: `calls read`, `calls delete`, `knowledge read`,
    /// `knowledge write` (create and delete).
    pub fn kind_label(self) -> String {
        self.spelling().replace(':', " ")
    }

    /// Which keys may make a request that needs this, as the OpenAPI document says it:
    /// `Needs calls read access: a key with Full access, Read only, or Custom with Calls: Read
    /// or Read and delete.`
    pub fn describe(self) -> String {
        let (name, labels) = match self.resource {
            Resource::Calls => ("calls", &CALLS_LABELS),
            Resource::Knowledge => ("knowledge", &KNOWLEDGE_LABELS),
        };
        let (level, levels): (&str, Vec<&str>) = (
            label_of(labels, self.access),
            labels
                .iter()
                .filter(|(a, _, _)| *a >= self.access)
                .map(|(_, _, label)| *label)
                .collect(),
        );
        let mut scopes = vec!["Full access"];
        if Scope::READ_ONLY.allows(self) {
            scopes.push("Read only");
        }
        format!(
            "Needs {name} {} access: a key with {}, or Custom with {}: {}.",
            level.to_lowercase(),
            scopes.join(", "),
            capitalised(name),
            levels.join(" or ")
        )
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A key's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct Scope {
    pub calls: Access,
    pub knowledge: Access,
}

/// Every scope there is, with its stored spelling (so the spelling is a `&'static str`).
const SPELLINGS: [(Scope, &str); 9] = {
    use Access::{None as N, Read as R, Write as W};
    const fn s(calls: Access, knowledge: Access) -> Scope {
        Scope { calls, knowledge }
    }
    [
        (s(W, W), "full"),
        (s(R, R), "read"),
        (s(N, N), "none"),
        (s(R, N), "calls:read"),
        (s(W, N), "calls:delete"),
        (s(N, R), "knowledge:read"),
        (s(N, W), "knowledge:write"),
        (s(R, W), "calls:read,knowledge:write"),
        (s(W, R), "calls:delete,knowledge:read"),
    ]
};

/// The labels of each access level, per resource, as the dashboard and the CLI show them.
const CALLS_LABELS: [(Access, &str, &str); 3] = [
    (Access::None, "none", "None"),
    (Access::Read, "read", "Read"),
    (Access::Write, "delete", "Read and delete"),
];
const KNOWLEDGE_LABELS: [(Access, &str, &str); 3] = [
    (Access::None, "none", "None"),
    (Access::Read, "read", "Read"),
    (Access::Write, "write", "Read and write"),
];

impl Scope {
    pub const FULL: Scope = Scope {
        calls: Access::Write,
        knowledge: Access::Write,
    };
    pub const READ_ONLY: Scope = Scope {
        calls: Access::Read,
        knowledge: Access::Read,
    };

    /// Whether a request that needs `need` is allowed.
    pub fn allows(self, need: Need) -> bool {
        self.access_to(need.resource) >= need.access
    }

    pub fn access_to(self, resource: Resource) -> Access {
        match resource {
            Resource::Calls => self.calls,
            Resource::Knowledge => self.knowledge,
        }
    }

    pub fn is_full(self) -> bool {
        self == Scope::FULL
    }

    /// The stored spelling: `full`, `read`, `calls:read,knowledge:write`, …
    pub fn as_str(self) -> &'static str {
        SPELLINGS
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("none", |(_, spelling)| spelling)
    }

    /// How people read it: `Full access`, `Read only`, or
    /// `Calls: read and delete · Knowledge: none`.
    pub fn label(self) -> String {
        match self {
            Scope::FULL => "Full access".to_owned(),
            Scope::READ_ONLY => "Read only".to_owned(),
            Scope { calls, knowledge } => format!(
                "Calls: {} · Knowledge: {}",
                label_of(&CALLS_LABELS, calls).to_lowercase(),
                label_of(&KNOWLEDGE_LABELS, knowledge).to_lowercase()
            ),
        }
    }

    /// The dashboard's Access field: `full`, `read` or `custom`, with the two custom selects
    /// (`none|read|delete` for calls, `none|read|write` for knowledge).
    pub fn from_form(choice: &str, calls: &str, knowledge: &str) -> Result<Self, Invalid> {
        let scope = match choice.trim() {
            "" | "full" => return Ok(Scope::FULL),
            "read" => return Ok(Scope::READ_ONLY),
            "custom" => Scope {
                calls: access_named(&CALLS_LABELS, calls.trim()).ok_or_else(|| {
                    Invalid::new("Choose the calls access: none, read, or read and delete.")
                })?,
                knowledge: access_named(&KNOWLEDGE_LABELS, knowledge.trim()).ok_or_else(|| {
                    Invalid::new("Choose the knowledge access: none, read, or read and write.")
                })?,
            },
            _ => {
                return Err(Invalid::new(
                    "Choose the access: full access, read only, or custom.",
                ))
            }
        };
        scope.allowing_something()
    }

    /// The form values that select this scope: (`full|read|custom`, calls, knowledge).
    pub fn form_values(self) -> (&'static str, &'static str, &'static str) {
        let choice = match self {
            Scope::FULL => "full",
            Scope::READ_ONLY => "read",
            _ => "custom",
        };
        (
            choice,
            name_of(&CALLS_LABELS, self.calls),
            name_of(&KNOWLEDGE_LABELS, self.knowledge),
        )
    }

    /// The custom selects' options: (value, label) per level.
    pub fn calls_options() -> [(&'static str, &'static str); 3] {
        CALLS_LABELS.map(|(_, value, label)| (value, label))
    }

    pub fn knowledge_options() -> [(&'static str, &'static str); 3] {
        KNOWLEDGE_LABELS.map(|(_, value, label)| (value, label))
    }

    fn allowing_something(self) -> Result<Self, Invalid> {
        if self.calls == Access::None && self.knowledge == Access::None {
            Err(Invalid::new(
                "A custom scope must allow calls or knowledge (or both).",
            ))
        } else {
            Ok(self)
        }
    }
}

impl Default for Scope {
    fn default() -> Self {
        Scope::FULL
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `callem keys create --scope`: `full`, `read`, or a comma-separated list of `calls:read`,
/// `calls:delete`, `knowledge:read`, `knowledge:write` (a resource left out gets none).
impl FromStr for Scope {
    type Err = Invalid;

    fn from_str(value: &str) -> Result<Self, Invalid> {
        let v = value.trim();
        let wrong = || {
            Invalid::new(format!(
                "invalid scope '{v}': use full, read, or a list such as \
                 calls:read,knowledge:write (calls:read|delete, knowledge:read|write)"
            ))
        };
        match v {
            "full" => return Ok(Scope::FULL),
            "read" => return Ok(Scope::READ_ONLY),
            _ => {}
        }
        let mut scope = Scope {
            calls: Access::None,
            knowledge: Access::None,
        };
        for part in v.split(',').map(str::trim) {
            let (resource, level) = part.split_once(':').ok_or_else(wrong)?;
            let (slot, labels) = match resource {
                "calls" => (&mut scope.calls, &CALLS_LABELS),
                "knowledge" => (&mut scope.knowledge, &KNOWLEDGE_LABELS),
                _ => return Err(wrong()),
            };
            let access = access_named(labels, level).ok_or_else(wrong)?;
            *slot = (*slot).max(access);
        }
        scope.allowing_something()
    }
}

fn access_named(labels: &[(Access, &str, &str); 3], name: &str) -> Option<Access> {
    labels
        .iter()
        .find(|(_, n, _)| *n == name)
        .map(|(a, _, _)| *a)
}

fn name_of(labels: &[(Access, &'static str, &str); 3], access: Access) -> &'static str {
    labels
        .iter()
        .find(|(a, _, _)| *a == access)
        .map_or("none", |(_, n, _)| n)
}

fn label_of(labels: &[(Access, &str, &'static str); 3], access: Access) -> &'static str {
    labels
        .iter()
        .find(|(a, _, _)| *a == access)
        .map_or("None", |(_, _, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Access; 3] = [Access::None, Access::Read, Access::Write];

    #[test]
    fn every_scope_has_one_spelling_that_reads_back() {
        for calls in ALL {
            for knowledge in ALL {
                let s = Scope { calls, knowledge };
                if s.calls != Access::None || s.knowledge != Access::None {
                    assert_eq!(s.as_str().parse::<Scope>().unwrap(), s, "{s}");
                    let (choice, c, k) = s.form_values();
                    assert_eq!(Scope::from_form(choice, c, k).unwrap(), s);
                }
            }
        }
        assert!("admin".parse::<Scope>().is_err());
    }

    #[test]
    fn each_level_includes_the_ones_before_it() {
        let s = "calls:delete,knowledge:read".parse::<Scope>().unwrap();
        assert!(s.allows(Need::new(Resource::Calls, Access::Read)));
        assert!(s.allows(Need::new(Resource::Calls, Access::Write)));
        assert!(s.allows(Need::new(Resource::Knowledge, Access::Read)));
        assert!(!s.allows(Need::new(Resource::Knowledge, Access::Write)));
        assert!(!Scope::READ_ONLY.allows(Need::new(Resource::Calls, Access::Write)));
        assert!(Scope::FULL.allows(Need::new(Resource::Knowledge, Access::Write)));
    }

    #[test]
    fn the_command_line_spelling_is_checked() {
        assert_eq!("full".parse::<Scope>().unwrap(), Scope::FULL);
        assert_eq!(
            "calls:read, knowledge:read".parse::<Scope>().unwrap(),
            Scope::READ_ONLY
        );
        assert_eq!(
            "knowledge:write".parse::<Scope>().unwrap(),
            Scope {
                calls: Access::None,
                knowledge: Access::Write
            }
        );
        for bad in [
            "",
            "none",
            "calls",
            "calls:write",
            "knowledge:delete",
            "users:read",
        ] {
            assert!(bad.parse::<Scope>().is_err(), "{bad}");
        }
    }

    #[test]
    fn each_kind_of_operation_is_spelled_as_the_scope_that_allows_it() {
        for need in Need::ALL {
            let alone: Scope = need.spelling().parse().unwrap();
            assert!(alone.allows(need), "{}", need.spelling());
        }
        assert_eq!(
            Need::new(Resource::Calls, Access::Write).kind_label(),
            "calls delete"
        );
    }

    #[test]
    fn a_need_says_which_keys_meet_it() {
        assert_eq!(
            Need::new(Resource::Calls, Access::Read).describe(),
            "Needs calls read access: a key with Full access, Read only, or Custom with Calls: \
             Read or Read and delete."
        );
        assert_eq!(
            Need::new(Resource::Knowledge, Access::Write).describe(),
            "Needs knowledge read and write access: a key with Full access, or Custom with \
             Knowledge: Read and write."
        );
    }

    #[test]
    fn the_form_refuses_a_scope_that_allows_nothing() {
        assert_eq!(Scope::from_form("", "", "").unwrap(), Scope::FULL);
        assert_eq!(
            Scope::from_form("custom", "none", "none").unwrap_err().0,
            "A custom scope must allow calls or knowledge (or both)."
        );
        assert!(Scope::from_form("custom", "write", "read").is_err());
        assert!(Scope::from_form("owner", "", "").is_err());
        assert_eq!(
            Scope::from_form("custom", "delete", "none")
                .unwrap()
                .label(),
            "Calls: read and delete · Knowledge: none"
        );
    }
}
