//! A list's pager: the links to its pages (the calls' table, the audit log).

/// A page link of the pager; a gap is the ellipsis between distant pages.
pub struct PageLink {
    pub label: String,
    pub query: String,
    pub current: bool,
    pub gap: bool,
}

/// The links around `page` of `count` pages: the first and the last, two either side of the
/// current one, and a gap where pages are left out. `query` gives a page's query string.
pub fn links(page: i64, count: i64, query: impl Fn(i64) -> String) -> Vec<PageLink> {
    let window = (page - 2).max(1)..=(page + 2).min(count);
    let link = |p: i64| PageLink {
        label: p.to_string(),
        query: query(p),
        current: p == page,
        gap: false,
    };
    let gap = || PageLink {
        label: "…".into(),
        query: String::new(),
        current: false,
        gap: true,
    };
    let mut pages = Vec::new();
    if *window.start() > 1 {
        pages.push(link(1));
        if *window.start() > 2 {
            pages.push(gap());
        }
    }
    pages.extend(window.clone().map(link));
    if *window.end() < count {
        if *window.end() < count - 1 {
            pages.push(gap());
        }
        pages.push(link(count));
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(page: i64, count: i64) -> Vec<String> {
        links(page, count, |p| format!("page={p}"))
            .into_iter()
            .map(|l| match (l.gap, l.current) {
                (true, _) => "…".to_owned(),
                (false, true) => format!("[{}]", l.label),
                (false, false) => l.label,
            })
            .collect()
    }

    #[test]
    fn the_first_and_last_pages_and_two_either_side_are_linked_with_gaps_between() {
        assert_eq!(shown(1, 1), ["[1]"]);
        assert_eq!(shown(1, 3), ["[1]", "2", "3"]);
        assert_eq!(shown(5, 9), ["1", "…", "3", "4", "[5]", "6", "7", "…", "9"]);
        assert_eq!(shown(4, 9), ["1", "2", "3", "[4]", "5", "6", "…", "9"]);
        assert_eq!(shown(9, 9), ["1", "…", "7", "8", "[9]"]);
    }
}
