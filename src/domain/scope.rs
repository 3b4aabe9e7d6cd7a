//! What a key may do: **Full access** (the default, and every key made before scopes existed),
//! **Read only** (GET only), or **Custom** per resource — Calls: none, read, read and delete,
//! read and write (create and update), or read, write and delete; Knowledge: none, read, or
//! read and write (create, edit and delete). Stored as TEXT in the spelling
//! `callem keys create --scope` takes: `full`, `read`, or a list such as
//! `calls:read,knowledge:write`. Each item of a list adds to what the key may do with its
//! resource, so `calls:write,calls:delete` is calls read, write and delete. Spellings stored
//! before calls could be written keep their meaning: `calls:delete` is read and delete, and
//! `full` is everything (which now includes writing calls).

use std::fmt;
use std::str::FromStr;

use super::Invalid;

/// What an operation does to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Read it (GET).
    Read,
    /// Calls: create and update. Knowledge: create, edit and delete.
    Write,
    /// Calls: delete. (Knowledge's delete is a write: a key that may write knowledge may
    /// delete it.)
    Delete,
}

/// How far a key may go with one resource: nothing, or reading and, beyond reading, writing
/// and deleting, each on its own (calls have all five combinations; knowledge has none, read,
/// and read and write, which includes deleting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Level {
    read: bool,
    write: bool,
    delete: bool,
}

impl Level {
    pub const NONE: Level = Level::of(false, false, false);
    pub const READ: Level = Level::of(true, false, false);
    pub const READ_DELETE: Level = Level::of(true, false, true);
    pub const READ_WRITE: Level = Level::of(true, true, false);
    pub const READ_WRITE_DELETE: Level = Level::of(true, true, true);

    const fn of(read: bool, write: bool, delete: bool) -> Level {
        Level {
            read,
            write,
            delete,
        }
    }

    /// Whether an operation that does `access` is within this level.
    pub fn allows(self, access: Access) -> bool {
        match access {
            Access::Read => self.read,
            Access::Write => self.write,
            Access::Delete => self.delete,
        }
    }

    /// What either level allows.
    fn union(self, other: Level) -> Level {
        Level::of(
            self.read || other.read,
            self.write || other.write,
            self.delete || other.delete,
        )
    }
}

/// What a `/v1` operation works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Calls,
    Knowledge,
}

impl Resource {
    /// The levels a key may have on this resource, in the order the dashboard offers them:
    /// (level, form value and `--scope` word, label).
    fn levels(self) -> &'static [(Level, &'static str, &'static str)] {
        match self {
            Resource::Calls => &CALLS_LEVELS,
            Resource::Knowledge => &KNOWLEDGE_LEVELS,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Resource::Calls => "calls",
            Resource::Knowledge => "knowledge",
        }
    }
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
    pub const ALL: [Need; 5] = [
        Need::new(Resource::Calls, Access::Read),
        Need::new(Resource::Calls, Access::Write),
        Need::new(Resource::Calls, Access::Delete),
        Need::new(Resource::Knowledge, Access::Read),
        Need::new(Resource::Knowledge, Access::Write),
    ];

    /// The first level of the resource (in the dashboard's order) that meets this need: the
    /// least a key must have.
    fn least_level(self) -> (Level, &'static str, &'static str) {
        let levels = self.resource.levels();
        levels
            .iter()
            .copied()
            .find(|(level, _, _)| level.allows(self.access))
            .unwrap_or(levels[levels.len() - 1])
    }

    /// As `--scope` spells the least level that meets it: `calls:read`, `calls:write`,
    /// `calls:delete`, `knowledge:read`, `knowledge:write`.
    pub fn spelling(self) -> &'static str {
        let (level, _, _) = self.least_level();
        Scope::alone(self.resource, level).as_str()
    }

    /// The kind of request, in words: `calls read`, `calls write` (create and update),
    /// `calls delete`, `knowledge read`, `knowledge write` (create, edit and delete).
    pub fn kind_label(self) -> String {
        self.spelling().replace(':', " ")
    }

    /// Which keys may make a request that needs this, as the OpenAPI document says it:
    /// `Needs calls read access: a key with Full access, Read only, or Custom with Calls: Read
    /// or Read and delete or Read and write or Read, write and delete.`
    pub fn describe(self) -> String {
        let name = self.resource.name();
        let (_, _, least) = self.least_level();
        let levels: Vec<&str> = self
            .resource
            .levels()
            .iter()
            .filter(|(level, _, _)| level.allows(self.access))
            .map(|(_, _, label)| *label)
            .collect();
        let mut scopes = vec!["Full access"];
        if Scope::READ_ONLY.allows(self) {
            scopes.push("Read only");
        }
        format!(
            "Needs {name} {} access: a key with {}, or Custom with {}: {}.",
            least.to_lowercase(),
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
    pub calls: Level,
    pub knowledge: Level,
}

/// Every scope there is, with its stored spelling (so the spelling is a `&'static str`). The
/// first nine are the spellings stored before calls could be written, unchanged.
const SPELLINGS: [(Scope, &str); 15] = {
    const N: Level = Level::NONE;
    const R: Level = Level::READ;
    const RD: Level = Level::READ_DELETE;
    const RW: Level = Level::READ_WRITE;
    const RWD: Level = Level::READ_WRITE_DELETE;
    // Knowledge's write level.
    const KW: Level = Level::READ_WRITE_DELETE;
    const fn s(calls: Level, knowledge: Level) -> Scope {
        Scope { calls, knowledge }
    }
    [
        (s(RWD, KW), "full"),
        (s(R, R), "read"),
        (s(N, N), "none"),
        (s(R, N), "calls:read"),
        (s(RD, N), "calls:delete"),
        (s(N, R), "knowledge:read"),
        (s(N, KW), "knowledge:write"),
        (s(R, KW), "calls:read,knowledge:write"),
        (s(RD, R), "calls:delete,knowledge:read"),
        (s(RD, KW), "calls:delete,knowledge:write"),
        (s(RW, N), "calls:write"),
        (s(RW, R), "calls:write,knowledge:read"),
        (s(RW, KW), "calls:write,knowledge:write"),
        (s(RWD, N), "calls:write,calls:delete"),
        (s(RWD, R), "calls:write,calls:delete,knowledge:read"),
    ]
};

/// The levels of calls, as the dashboard and the CLI show them: (level, form value, label).
/// `write_delete` is the form's value for the last; `--scope` spells it
/// `calls:write,calls:delete`.
const CALLS_LEVELS: [(Level, &str, &str); 5] = [
    (Level::NONE, "none", "None"),
    (Level::READ, "read", "Read"),
    (Level::READ_DELETE, "delete", "Read and delete"),
    (Level::READ_WRITE, "write", "Read and write"),
    (
        Level::READ_WRITE_DELETE,
        "write_delete",
        "Read, write and delete",
    ),
];
/// The levels of knowledge: writing includes deleting.
const KNOWLEDGE_LEVELS: [(Level, &str, &str); 3] = [
    (Level::NONE, "none", "None"),
    (Level::READ, "read", "Read"),
    (Level::READ_WRITE_DELETE, "write", "Read and write"),
];

impl Scope {
    pub const FULL: Scope = Scope {
        calls: Level::READ_WRITE_DELETE,
        knowledge: Level::READ_WRITE_DELETE,
    };
    pub const READ_ONLY: Scope = Scope {
        calls: Level::READ,
        knowledge: Level::READ,
    };

    /// A scope with `level` on `resource` and nothing on the other.
    fn alone(resource: Resource, level: Level) -> Scope {
        match resource {
            Resource::Calls => Scope {
                calls: level,
                knowledge: Level::NONE,
            },
            Resource::Knowledge => Scope {
                calls: Level::NONE,
                knowledge: level,
            },
        }
    }

    /// Whether a request that needs `need` is allowed.
    pub fn allows(self, need: Need) -> bool {
        self.level_of(need.resource).allows(need.access)
    }

    pub fn level_of(self, resource: Resource) -> Level {
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
                label_of(&CALLS_LEVELS, calls).to_lowercase(),
                label_of(&KNOWLEDGE_LEVELS, knowledge).to_lowercase()
            ),
        }
    }

    /// The dashboard's Access field: `full`, `read` or `custom`, with the two custom selects
    /// (`none|read|delete|write|write_delete` for calls, `none|read|write` for knowledge).
    pub fn from_form(choice: &str, calls: &str, knowledge: &str) -> Result<Self, Invalid> {
        let scope = match choice.trim() {
            "" | "full" => return Ok(Scope::FULL),
            "read" => return Ok(Scope::READ_ONLY),
            "custom" => Scope {
                calls: level_named(&CALLS_LEVELS, calls.trim()).ok_or_else(|| {
                    Invalid::new(
                        "Choose the calls access: none, read, read and delete, read and write, \
                         or read, write and delete.",
                    )
                })?,
                knowledge: level_named(&KNOWLEDGE_LEVELS, knowledge.trim()).ok_or_else(|| {
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
            name_of(&CALLS_LEVELS, self.calls),
            name_of(&KNOWLEDGE_LEVELS, self.knowledge),
        )
    }

    /// The custom selects' options: (value, label) per level.
    pub fn calls_options() -> [(&'static str, &'static str); 5] {
        CALLS_LEVELS.map(|(_, value, label)| (value, label))
    }

    pub fn knowledge_options() -> [(&'static str, &'static str); 3] {
        KNOWLEDGE_LEVELS.map(|(_, value, label)| (value, label))
    }

    fn allowing_something(self) -> Result<Self, Invalid> {
        if self.calls == Level::NONE && self.knowledge == Level::NONE {
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
/// `calls:write`, `calls:delete`, `knowledge:read`, `knowledge:write` (a resource left out
/// gets none; each item adds to what its resource allows: `calls:write,calls:delete` is
/// calls read, write and delete).
impl FromStr for Scope {
    type Err = Invalid;

    fn from_str(value: &str) -> Result<Self, Invalid> {
        let v = value.trim();
        let wrong = || {
            Invalid::new(format!(
                "invalid scope '{v}': use full, read, or a list such as \
                 calls:read,knowledge:write (calls:read|write|delete, knowledge:read|write)"
            ))
        };
        match v {
            "full" => return Ok(Scope::FULL),
            "read" => return Ok(Scope::READ_ONLY),
            _ => {}
        }
        let mut scope = Scope {
            calls: Level::NONE,
            knowledge: Level::NONE,
        };
        for part in v.split(',').map(str::trim) {
            let (resource, word) = part.split_once(':').ok_or_else(wrong)?;
            let (slot, levels) = match resource {
                "calls" => (&mut scope.calls, &CALLS_LEVELS[..]),
                "knowledge" => (&mut scope.knowledge, &KNOWLEDGE_LEVELS[..]),
                _ => return Err(wrong()),
            };
            // One word a part: the two-word form value is spelled as two parts here.
            let level = level_named(levels, word)
                .filter(|_| !word.contains('_'))
                .ok_or_else(wrong)?;
            *slot = slot.union(level);
        }
        scope.allowing_something()
    }
}

fn level_named(levels: &[(Level, &str, &str)], name: &str) -> Option<Level> {
    levels
        .iter()
        .find(|(_, n, _)| *n == name)
        .map(|(l, _, _)| *l)
}

fn name_of(levels: &[(Level, &'static str, &str)], level: Level) -> &'static str {
    levels
        .iter()
        .find(|(l, _, _)| *l == level)
        .map_or("none", |(_, n, _)| n)
}

fn label_of(levels: &[(Level, &str, &'static str)], level: Level) -> &'static str {
    levels
        .iter()
        .find(|(l, _, _)| *l == level)
        .map_or("None", |(_, _, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_scope() -> impl Iterator<Item = Scope> {
        CALLS_LEVELS.into_iter().flat_map(|(calls, _, _)| {
            KNOWLEDGE_LEVELS
                .into_iter()
                .map(move |(knowledge, _, _)| Scope { calls, knowledge })
        })
    }

    #[test]
    fn every_scope_has_one_spelling_that_reads_back() {
        let mut spellings = Vec::new();
        for s in every_scope() {
            if s.calls != Level::NONE || s.knowledge != Level::NONE {
                assert_eq!(s.as_str().parse::<Scope>().unwrap(), s, "{s}");
                let (choice, c, k) = s.form_values();
                assert_eq!(Scope::from_form(choice, c, k).unwrap(), s);
                spellings.push(s.as_str());
            }
        }
        assert!(!spellings.contains(&"none"), "every scope is in SPELLINGS");
        spellings.sort_unstable();
        spellings.dedup();
        assert_eq!(spellings.len(), 14, "each scope has its own spelling");
        assert!("admin".parse::<Scope>().is_err());
    }

    /// What keys stored before calls could be written hold keeps its meaning, spelled the same.
    #[test]
    fn spellings_stored_before_calls_write_keep_their_meaning() {
        let r = Need::new(Resource::Calls, Access::Read);
        let w = Need::new(Resource::Calls, Access::Write);
        let d = Need::new(Resource::Calls, Access::Delete);
        let kr = Need::new(Resource::Knowledge, Access::Read);
        let kw = Need::new(Resource::Knowledge, Access::Write);
        // (stored, [calls read, calls write, calls delete, knowledge read, knowledge write])
        let cases: [(&str, [bool; 5]); 9] = [
            // Full access includes writing calls (the spec: "Full access includes it").
            ("full", [true, true, true, true, true]),
            ("read", [true, false, false, true, false]),
            ("calls:read", [true, false, false, false, false]),
            ("calls:delete", [true, false, true, false, false]),
            ("knowledge:read", [false, false, false, true, false]),
            ("knowledge:write", [false, false, false, true, true]),
            (
                "calls:read,knowledge:write",
                [true, false, false, true, true],
            ),
            (
                "calls:delete,knowledge:read",
                [true, false, true, true, false],
            ),
            ("calls:read,calls:delete", [true, false, true, false, false]),
        ];
        for (stored, expected) in cases {
            let s: Scope = stored.parse().unwrap();
            assert_eq!(
                [r, w, d, kr, kw].map(|need| s.allows(need)),
                expected,
                "{stored}"
            );
            if stored != "calls:read,calls:delete" {
                assert_eq!(s.as_str(), stored, "spelled back as stored");
            }
        }
        assert_eq!(
            "calls:delete".parse::<Scope>().unwrap().label(),
            "Calls: read and delete · Knowledge: none"
        );
    }

    #[test]
    fn calls_write_and_delete_are_independent_beyond_read() {
        let write: Scope = "calls:write".parse().unwrap();
        assert!(write.allows(Need::new(Resource::Calls, Access::Read)));
        assert!(write.allows(Need::new(Resource::Calls, Access::Write)));
        assert!(!write.allows(Need::new(Resource::Calls, Access::Delete)));
        assert_eq!(write.label(), "Calls: read and write · Knowledge: none");
        let both: Scope = "calls:delete, calls:write".parse().unwrap();
        assert_eq!(both.as_str(), "calls:write,calls:delete");
        assert_eq!(both.calls, Level::READ_WRITE_DELETE);
        assert_eq!(
            both.label(),
            "Calls: read, write and delete · Knowledge: none"
        );
        assert!(!Scope::READ_ONLY.allows(Need::new(Resource::Calls, Access::Write)));
        assert!(Scope::FULL.allows(Need::new(Resource::Calls, Access::Write)));
        assert_eq!(
            "calls:write,calls:delete,knowledge:write"
                .parse::<Scope>()
                .unwrap(),
            Scope::FULL
        );
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
                calls: Level::NONE,
                knowledge: Level::READ_WRITE_DELETE
            }
        );
        for bad in [
            "",
            "none",
            "calls",
            "calls:write_delete",
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
            Need::ALL.map(Need::kind_label),
            [
                "calls read",
                "calls write",
                "calls delete",
                "knowledge read",
                "knowledge write"
            ]
        );
    }

    #[test]
    fn a_need_says_which_keys_meet_it() {
        assert_eq!(
            Need::new(Resource::Calls, Access::Read).describe(),
            "Needs calls read access: a key with Full access, Read only, or Custom with Calls: \
             Read or Read and delete or Read and write or Read, write and delete."
        );
        assert_eq!(
            Need::new(Resource::Calls, Access::Write).describe(),
            "Needs calls read and write access: a key with Full access, or Custom with Calls: \
             Read and write or Read, write and delete."
        );
        assert_eq!(
            Need::new(Resource::Calls, Access::Delete).describe(),
            "Needs calls read and delete access: a key with Full access, or Custom with Calls: \
             Read and delete or Read, write and delete."
        );
        assert_eq!(
            Need::new(Resource::Knowledge, Access::Write).describe(),
            "Needs knowledge read and write access: a key with Full access, or Custom with \
             Knowledge: Read and write."
        );
    }

    #[test]
    fn the_form_offers_five_calls_levels_and_refuses_a_scope_that_allows_nothing() {
        assert_eq!(
            Scope::calls_options().map(|(_, label)| label),
            [
                "None",
                "Read",
                "Read and delete",
                "Read and write",
                "Read, write and delete"
            ]
        );
        assert_eq!(Scope::from_form("", "", "").unwrap(), Scope::FULL);
        assert_eq!(
            Scope::from_form("custom", "none", "none").unwrap_err().0,
            "A custom scope must allow calls or knowledge (or both)."
        );
        assert!(Scope::from_form("custom", "admin", "read").is_err());
        assert!(Scope::from_form("custom", "read", "delete").is_err());
        assert!(Scope::from_form("owner", "", "").is_err());
        assert_eq!(
            Scope::from_form("custom", "delete", "none")
                .unwrap()
                .label(),
            "Calls: read and delete · Knowledge: none"
        );
        assert_eq!(
            Scope::from_form("custom", "write", "none")
                .unwrap()
                .as_str(),
            "calls:write"
        );
        assert_eq!(
            Scope::from_form("custom", "write_delete", "read")
                .unwrap()
                .as_str(),
            "calls:write,calls:delete,knowledge:read"
        );
    }
}
