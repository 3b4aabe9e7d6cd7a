//! A list's pager: the links to its pages (the calls' table, the audit log).

/// A page link of the pager; a gap is the ellipsis between distant pages.
pub struct PageLink {
    pub label: String,
    pub query: String,
    pub current: bool,
    pub gap: bool,
}
