//! Settings → Audit log, in words: what each action reads as, the kinds of event the filter
//! offers, and the filter itself, parsed from the query string (so a link keeps it).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::action::Action;
use super::key_change;
use super::pagination::PageNumber;

/// Events a page of the tab.
pub const PAGE_SIZE: i64 = 50;

/// What an event reads as on the tab: `before`, the target in emphasis, `after`, then the
/// changes (field, before, after) the event's detail lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    pub before: String,
    pub target: String,
    pub after: String,
    pub changes: Vec<(String, String, String)>,
}

impl Words {
    /// The whole sentence, plain (the CSV's "what happened").
    pub fn sentence(&self) -> String {
        let mut s = if self.target.is_empty() {
            format!("{}{}", self.before, self.after)
        } else {
            format!("{} {}{}", self.before, self.target, self.after)
        };
        if !self.changes.is_empty() {
            let changes: Vec<String> = self
                .changes
                .iter()
                .map(|(field, from, to)| format!("{field} {from} → {to}"))
                .collect();
            s.push_str(": ");
            s.push_str(&changes.join("; "));
        }
        s
    }
}

/// The role an event's detail names (`{"role": [before, after]}`), as it reads.
fn role_in(detail: Option<&str>) -> String {
    detail
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .and_then(|v| {
            let role = &v["role"];
            role.get(1)
                .and_then(|r| r.as_str())
                .or_else(|| role.as_str())
                .map(str::to_owned)
        })
        .map(|r| match r.parse::<super::role::Role>() {
            Ok(role) => role.label().to_owned(),
            Err(_) => r,
        })
        .unwrap_or_else(|| "a member".to_owned())
}

/// An event in words; an unknown action reads as its name, with its target.
pub fn describe(action: &str, target_label: &str, detail: Option<&str>) -> Words {
    let known = Action::parse(action);
    let phrase = known
        .map(|a| a.phrase().to_owned())
        .unwrap_or_else(|| format!("{action} {{target}}"));
    let phrase = if phrase.contains("{role}") {
        phrase.replace("{role}", &role_in(detail))
    } else {
        phrase
    };
    let (before, target, after) = match phrase.split_once("{target}") {
        Some((before, after)) => (
            before.trim_end().to_owned(),
            target_label.to_owned(),
            after.to_owned(),
        ),
        None => (phrase, String::new(), String::new()),
    };
    // A detail that only says the role is already in the sentence.
    let changes = match known {
        Some(Action::MemberInvited | Action::MemberJoined) => Vec::new(),
        Some(Action::KnowledgeUpdated) => knowledge_changes(detail),
        _ => key_change::describe(detail),
    };
    Words {
        before,
        target,
        after,
        changes,
    }
}

/// A knowledge item's changes, its fields called as the dashboard's form calls them.
fn knowledge_changes(detail: Option<&str>) -> Vec<(String, String, String)> {
    let mut changes = key_change::describe(detail);
    for (field, _, _) in &mut changes {
        *field = match field.as_str() {
            "description" => "Description".to_owned(),
            "text" => "Content".to_owned(),
            _ => std::mem::take(field),
        };
    }
    changes
}

/// The kinds of event the filter offers: each a group of actions sharing a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ApiKeys,
    Members,
    Calls,
    Knowledge,
    Project,
    Account,
    Webhooks,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::ApiKeys,
        Kind::Members,
        Kind::Calls,
        Kind::Knowledge,
        Kind::Project,
        Kind::Account,
        Kind::Webhooks,
    ];

    /// The value in the URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ApiKeys => "api_keys",
            Kind::Members => "members",
            Kind::Calls => "calls",
            Kind::Knowledge => "knowledge",
            Kind::Project => "project",
            Kind::Account => "account",
            Kind::Webhooks => "webhooks",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::ApiKeys => "API keys",
            Kind::Members => "Members",
            Kind::Calls => "Calls",
            Kind::Knowledge => "Knowledge",
            Kind::Project => "Project",
            Kind::Account => "Accounts",
            Kind::Webhooks => "Webhooks",
        }
    }

    /// The action prefixes (`api_key.` …) of this kind.
    pub fn prefixes(self) -> &'static [&'static str] {
        match self {
            Kind::ApiKeys => &["api_key."],
            Kind::Members => &["member.", "invitation."],
            Kind::Calls => &["call."],
            Kind::Knowledge => &["knowledge."],
            Kind::Project => &["project."],
            Kind::Account => &["user."],
            Kind::Webhooks => &["webhook."],
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The tab's filters and page, read from the query string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    pub kind: Option<Kind>,
    /// An actor as events name it (`actor_label`).
    pub actor: Option<String>,
    /// First day included (UTC).
    pub from: Option<NaiveDate>,
    /// Last day included (UTC).
    pub to: Option<NaiveDate>,
    pub page: PageNumber,
}

/// Filter values that cannot be applied, each with its message for the field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterErrors {
    pub kind: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl FilterErrors {
    pub fn is_empty(&self) -> bool {
        self.kind.is_none() && self.from.is_none() && self.to.is_none()
    }

    /// All the messages in one line (a download's refusal).
    pub fn summary(&self) -> String {
        [&self.kind, &self.from, &self.to]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The raw values the filter was read from, echoed back in the form when they are refused.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawFilter {
    pub kind: String,
    pub actor: String,
    pub from: String,
    pub to: String,
}

impl AuditFilter {
    /// Reads the query's values. Unlike the page number (read leniently), a value that cannot
    /// be applied — an unknown kind, a date that is not one, a reversed range — is an error
    /// for its field: a filter silently dropped would show events the person excluded.
    pub fn from_query(
        get: impl Fn(&str) -> Option<String>,
    ) -> (AuditFilter, RawFilter, FilterErrors) {
        let value = |k: &str| get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
        let raw = RawFilter {
            kind: value("kind"),
            actor: value("actor"),
            from: value("from"),
            to: value("to"),
        };
        let mut errors = FilterErrors::default();
        let kind = match raw.kind.as_str() {
            "" => None,
            k => match Kind::parse(k) {
                Some(kind) => Some(kind),
                None => {
                    errors.kind = Some(format!(
                        "“{}” is not a kind of event: choose one from the list.",
                        k.chars().take(40).collect::<String>()
                    ));
                    None
                }
            },
        };
        let date = |v: &str, label: &str, slot: &mut Option<String>| match v {
            "" => None,
            v => match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    *slot = Some(format!("“{label}” must be a date like 2026-12-31."));
                    None
                }
            },
        };
        let from = date(&raw.from, "From", &mut errors.from);
        let to = date(&raw.to, "To", &mut errors.to);
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                errors.to = Some(
                    "“To” is before “From”, so no event can match. Swap the dates or clear one."
                        .to_owned(),
                );
            }
        }
        let actor = Some(raw.actor.clone())
            .filter(|a| !a.is_empty() && !a.contains('\0'))
            .map(|a| a.chars().take(300).collect());
        let filter = AuditFilter {
            kind,
            actor,
            from,
            to,
            page: PageNumber::from_query(get("page").as_deref()),
        };
        (filter, raw, errors)
    }

    /// Whether any filter narrows the events.
    pub fn is_filtered(&self) -> bool {
        self.kind.is_some() || self.actor.is_some() || self.from.is_some() || self.to.is_some()
    }

    /// The start of `from`, inclusive.
    pub fn from_time(&self) -> Option<NaiveDateTime> {
        self.from.map(|d| d.and_time(NaiveTime::MIN))
    }

    /// The start of the day after `to`, exclusive.
    pub fn until_time(&self) -> Option<NaiveDateTime> {
        self.to
            .and_then(|d| d.succ_opt())
            .map(|d| d.and_time(NaiveTime::MIN))
    }

    /// Events before this page.
    pub fn offset(&self) -> i64 {
        self.page.offset(PAGE_SIZE)
    }

    /// The same filter at its page, or at the last page when `matching` events end before it.
    pub fn within(mut self, matching: i64) -> Self {
        self.page = self.page.within(matching, PAGE_SIZE);
        self
    }

    /// The query string of the filters alone (for the downloads), without the page.
    pub fn filters_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(k) = self.kind {
            pairs.push(("kind", k.as_str().to_owned()));
        }
        if let Some(a) = &self.actor {
            pairs.push(("actor", a.clone()));
        }
        if let Some(d) = self.from {
            pairs.push(("from", d.to_string()));
        }
        if let Some(d) = self.to {
            pairs.push(("to", d.to_string()));
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    /// The query string for this filter at another page.
    pub fn query(&self, page: i64) -> String {
        let filters = self.filters_query();
        if page <= 1 {
            filters
        } else if filters.is_empty() {
            format!("page={page}")
        } else {
            format!("{filters}&page={page}")
        }
    }
}

/// Characters a spreadsheet reads as the start of a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Where a spreadsheet may start a new cell: the comma this file uses, and the `;` and TAB
/// that other locales' spreadsheets split on (they also ignore our quotes in mid-field), and
/// line breaks.
const SEPARATORS: [char; 5] = [',', ';', '\t', '\n', '\r'];

/// One CSV cell (RFC 4180): quoted when it holds a comma, a `;`, a TAB, a quote or a line
/// break, quotes doubled. Wherever a spreadsheet could start a cell (the start, or after any
/// separator, quotes and spaces skipped) and a formula character follows, a `'` goes in first,
/// so an event's text (a key's name, say) never becomes a formula, whichever separator the
/// spreadsheet splits on.
pub fn csv_cell(value: &str) -> String {
    let mut defused = String::with_capacity(value.len() + 2);
    let mut cell_start = true;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if cell_start {
            // A new cell may begin here: look past the quotes and spaces a parser skips.
            let ahead: String = std::iter::once(c)
                .chain(chars.clone())
                .skip_while(|c| *c == '"' || *c == ' ')
                .take(1)
                .collect();
            if ahead.starts_with(FORMULA_START) {
                defused.push('\'');
            }
        }
        defused.push(c);
        cell_start = SEPARATORS.contains(&c);
    }
    if defused.contains([',', ';', '\t', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// One CSV record, CRLF-terminated.
pub fn csv_record<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = cells
        .into_iter()
        .map(csv_cell)
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> (AuditFilter, RawFilter, FilterErrors) {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).unwrap();
        AuditFilter::from_query(|k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_record(["a", "", "b c"]), "a,,b c\r\n");
        // Other locales split on `;` or TAB, and a formula may follow any separator.
        assert_eq!(csv_cell("a;b"), "\"a;b\"");
        assert_eq!(csv_cell("a\tb"), "\"a\tb\"");
        assert_eq!(csv_cell("x;=1"), "\"x;'=1\"");
        assert_eq!(csv_cell("x\t=1"), "\"x\t'=1\"");
        assert_eq!(csv_cell("x,\"=1"), "\"x,'\"\"=1\"");
        assert_eq!(csv_cell("x; @A1"), "\"x;' @A1\"");
        assert_eq!(csv_cell("2026-01-01 a-b"), "2026-01-01 a-b");
    }

    proptest::proptest! {
        /// However a spreadsheet splits an exported record (on `,`, `;` or TAB, honouring
        /// quotes or not), no piece starts a formula.
        #[test]
        fn no_split_of_a_record_starts_a_formula(
            cells in proptest::collection::vec("[a-z =+@;,\t\"\n\r-]{0,12}", 1..4)
        ) {
            let line = csv_record(cells.iter().map(String::as_str));
            for sep in [',', ';', '\t', '\n', '\r'] {
                for piece in line.split(sep) {
                    let start = piece.trim_start_matches(['"', ' ']);
                    proptest::prop_assert!(
                        !start.starts_with(['=', '+', '-', '@']),
                        "{piece:?} of {line:?} split on {sep:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn known_actions_read_as_sentences_and_unknown_ones_as_their_name() {
        let w = describe("api_key.revoked", "Production CRM Integration", None);
        assert_eq!(
            w.sentence(),
            "revoked the API key Production CRM Integration"
        );
        let w = describe(
            "api_key.updated",
            "CRM",
            Some(r#"{"allowed_ips":[null,"10.0.0.0/24"]}"#),
        );
        assert_eq!(
            w.sentence(),
            "updated the API key CRM: Allowed IPs All IPs → 10.0.0.0/24"
        );
        let w = describe(
            "member.invited",
            "bob@example.com",
            Some(r#"{"role":[null,"developer"]}"#),
        );
        assert_eq!(w.sentence(), "invited bob@example.com as Developer");
        assert_eq!(
            describe("call.deleted", "call_abc", None).sentence(),
            "deleted the call call_abc"
        );
        assert_eq!(
            describe("thing.frobbed", "x", None).sentence(),
            "thing.frobbed x"
        );
    }

    #[test]
    fn every_action_of_a_kind_is_known_and_has_one_kind() {
        for action in Action::ALL.iter().map(|a| a.as_str()) {
            let kinds: Vec<Kind> = Kind::ALL
                .into_iter()
                .filter(|k| k.prefixes().iter().any(|p| action.starts_with(p)))
                .collect();
            assert_eq!(kinds.len(), 1, "{action}");
        }
    }

    #[test]
    fn filters_round_trip_through_the_query_and_bad_values_are_named() {
        let (f, _, e) =
            parse("kind=api_keys&actor=Command+line&from=2026-01-01&to=2026-01-31&page=2");
        assert!(e.is_empty());
        assert_eq!(f.kind, Some(Kind::ApiKeys));
        assert_eq!(f.actor.as_deref(), Some("Command line"));
        assert_eq!(f.page.get(), 2);
        let (again, _, _) = parse(&f.query(2));
        assert_eq!(again, f);
        let (_, raw, e) = parse("kind=nope&from=yesterday&to=2026-01-01");
        assert!(e.kind.unwrap().contains("“nope” is not a kind of event"));
        assert!(e.from.unwrap().contains("must be a date"));
        assert_eq!(raw.from, "yesterday");
        let (_, _, e) = parse("from=2026-02-01&to=2026-01-01");
        assert!(e.to.unwrap().contains("“To” is before “From”"));
    }
}
