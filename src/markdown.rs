//! Knowledge content as HTML: Markdown rendered with every piece of raw HTML shown as text and
//! link targets limited to safe schemes, so nothing a user typed can run as script; and
//! bounded, so no text renders to much more than it is.

use std::cell::Cell;
use std::fmt;

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag, TagEnd};

/// Block quotes and lists nest at most this deep; deeper markers add no more levels, their
/// content stays at the deepest one (500 KiB of `>` once made 13.5 MB of nested quotes).
pub const MAX_NESTING: usize = 16;
/// Rendering stops, every open element closed, once the HTML reaches this size: more than the
/// largest item (512 KiB) of text that is all `&` renders to (2.5 MiB). Tables could grow
/// beyond it: every `|` of a row is a `<td></td>`.
pub const MAX_HTML_BYTES: usize = 4 * 1024 * 1024;
/// Shown where a rendering was cut.
pub const TRUNCATED_NOTE: &str = "The rest of this item is too long to show here.";

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    match lower.split_once(':') {
        // No scheme: a relative link or a fragment.
        None => true,
        Some((scheme, _))
            if scheme.contains('/') || scheme.contains('?') || scheme.contains('#') =>
        {
            true
        }
        Some((scheme, _)) => matches!(scheme, "http" | "https" | "mailto"),
    }
}

fn safe_or_hash(url: CowStr<'_>) -> CowStr<'_> {
    if safe_url(&url) {
        url
    } else {
        CowStr::from("#")
    }
}

/// Renders Markdown to HTML that is safe to put in a page.
pub fn to_safe_html(markdown: &str) -> String {
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .map(|event| match event {
        // Raw HTML is shown as the text it is, never interpreted.
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_or_hash(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_or_hash(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let written = Cell::new(0);
    let bounded = Bounded {
        events: parser,
        written: &written,
        open: Vec::new(),
        depth: 0,
        suppressed: 0,
        tail: None,
    };
    let mut out = Counting {
        out: String::with_capacity(markdown.len() * 3 / 2),
        written: &written,
    };
    // Writing into a String cannot fail.
    let _ = html::write_html_fmt(&mut out, bounded);
    out.out
}

/// The HTML being written, its length shared with [`Bounded`].
struct Counting<'c> {
    out: String,
    written: &'c Cell<usize>,
}

impl fmt::Write for Counting<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.out.push_str(s);
        self.written.set(self.out.len());
        Ok(())
    }
}

/// The events, with container nesting capped at [`MAX_NESTING`] and the output at
/// [`MAX_HTML_BYTES`]. The writer pulls one event at a time and writes it before the next,
/// so `written` is the size of everything before the event being asked for.
struct Bounded<'a, 'c, I> {
    events: I,
    written: &'c Cell<usize>,
    /// Ends of the elements started and not yet ended, innermost last.
    open: Vec<TagEnd>,
    /// Block quotes and lists rendered around the current event.
    depth: usize,
    /// Block quotes and lists dropped (too deep) around the current event: always inside the
    /// rendered ones, so while any is open, every container and item is dropped.
    suppressed: usize,
    /// Once over the size: the ends of what is open, then the note; nothing after.
    tail: Option<std::vec::IntoIter<Event<'a>>>,
}

fn is_container(tag: &Tag<'_>) -> bool {
    matches!(tag, Tag::BlockQuote(_) | Tag::List(_))
}

fn is_container_end(end: &TagEnd) -> bool {
    matches!(end, TagEnd::BlockQuote(_) | TagEnd::List(_))
}

impl<'a, I: Iterator<Item = Event<'a>>> Iterator for Bounded<'a, '_, I> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        loop {
            if let Some(tail) = &mut self.tail {
                return tail.next();
            }
            if self.written.get() > MAX_HTML_BYTES {
                let mut tail: Vec<Event<'a>> = self.open.drain(..).rev().map(Event::End).collect();
                tail.extend([
                    Event::Start(Tag::Paragraph),
                    Event::Text(CowStr::from(TRUNCATED_NOTE)),
                    Event::End(TagEnd::Paragraph),
                ]);
                self.tail = Some(tail.into_iter());
                continue;
            }
            let event = self.events.next()?;
            match &event {
                Event::Start(tag) if is_container(tag) || matches!(tag, Tag::Item) => {
                    let keep =
                        self.suppressed == 0 && (!is_container(tag) || self.depth < MAX_NESTING);
                    if !keep {
                        if is_container(tag) {
                            self.suppressed += 1;
                            continue;
                        }
                        // A flattened item still starts on its own line (as a space).
                        return Some(Event::SoftBreak);
                    }
                    if is_container(tag) {
                        self.depth += 1;
                    }
                    self.open.push(tag.to_end());
                }
                Event::End(end) if is_container_end(end) || *end == TagEnd::Item => {
                    if self.suppressed > 0 {
                        if is_container_end(end) {
                            self.suppressed -= 1;
                        }
                        continue;
                    }
                    if is_container_end(end) {
                        self.depth -= 1;
                    }
                    self.open.pop();
                }
                Event::Start(tag) => self.open.push(tag.to_end()),
                Event::End(_) => {
                    self.open.pop();
                }
                _ => {}
            }
            return Some(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_script_never_does() {
        let html = to_safe_html("## Refunds\n\n**Within** 30 days.\n\n<script>alert(1)</script>\n\nInline <img src=x onerror=alert(1)> here.");
        assert!(html.contains("<h2>Refunds</h2>"));
        assert!(html.contains("<strong>Within</strong>"));
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "shown as text: {html}");
        assert!(!html.contains("<img"), "{html}");
    }

    #[test]
    fn only_safe_link_targets_survive() {
        let html = to_safe_html("[a](javascript:alert(1)) [b](https://example.com) [c](/docs) [d](JaVaScRiPt:x) ![e](data:text/html,x)");
        assert!(!html.to_lowercase().contains("javascript:"), "{html}");
        assert!(!html.contains("data:"), "{html}");
        assert!(html.contains(r#"href="https://example.com""#));
        assert!(html.contains(r#"href="/docs""#));
    }

    fn timed(markdown: &str) -> (String, std::time::Duration) {
        let started = std::time::Instant::now();
        let html = to_safe_html(markdown);
        (html, started.elapsed())
    }

    #[test]
    fn half_a_mebibyte_of_quote_markers_renders_small_and_fast() {
        for markers in [">".repeat(500 * 1024), "> ".repeat(250 * 1024) + "deep"] {
            let (html, took) = timed(&markers);
            assert!(html.len() < 2_000_000, "{} bytes", html.len());
            assert_eq!(html.matches("<blockquote>").count(), MAX_NESTING);
            assert_eq!(html.matches("</blockquote>").count(), MAX_NESTING);
            assert!(took < std::time::Duration::from_secs(3), "{took:?}");
        }
        let (html, _) = timed(&("> ".repeat(250 * 1024) + "deep"));
        assert!(
            html.contains("deep"),
            "the content stays, at the deepest level"
        );
    }

    #[test]
    fn deeply_nested_lists_are_capped_and_keep_their_text() {
        let nested: String = (0..40)
            .map(|i| format!("{}- level {i}\n", "  ".repeat(i)))
            .collect();
        let html = to_safe_html(&nested);
        assert_eq!(html.matches("<ul>").count(), MAX_NESTING);
        assert_eq!(html.matches("</ul>").count(), MAX_NESTING);
        assert_eq!(html.matches("<li>").count(), html.matches("</li>").count());
        for i in 0..40 {
            assert!(html.contains(&format!("level {i}")), "level {i}: {html}");
        }
        let (html, _) = timed(&"- ".repeat(250 * 1024));
        assert!(html.len() < 2_000_000, "{} bytes", html.len());
    }

    #[test]
    fn normal_nesting_renders_unchanged() {
        let md = "> quote\n>> inner\n\n- a\n  - b\n    1. c\n";
        let mut plain = String::new();
        html::push_html(
            &mut plain,
            Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH),
        );
        assert_eq!(to_safe_html(md), plain);
    }

    #[test]
    fn output_is_cut_at_the_bound_with_every_element_closed() {
        // A table of empty cells: each `|` of its 500 KB renders to `<td></td>`.
        let header = "|c".repeat(1000) + "|\n" + &"|-".repeat(1000) + "|\n";
        let md = header + &("|".repeat(1001) + "\n").repeat(500);
        let (html, took) = timed(&md);
        assert!(
            html.len() < MAX_HTML_BYTES + 64 * 1024,
            "{} bytes",
            html.len()
        );
        assert!(
            html.ends_with(&format!("</tbody></table>\n<p>{TRUNCATED_NOTE}</p>\n")),
            "{}",
            &html[html.len() - 200..]
        );
        assert!(html.contains("</tbody></table>"), "closed");
        assert_eq!(html.matches("<tr>").count(), html.matches("</tr>").count());
        assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn text_that_escapes_large_still_renders_whole() {
        let md = "&".repeat(512 * 1024);
        let html = to_safe_html(&md);
        assert!(!html.contains(TRUNCATED_NOTE));
        assert_eq!(html.matches("&amp;").count(), 512 * 1024);
    }

    /// How deep `<blockquote>`s nest in `html`.
    fn quote_depth(html: &str) -> usize {
        let (mut depth, mut deepest) = (0usize, 0usize);
        let mut rest = html;
        while let Some(at) = rest.find("blockquote>") {
            if rest[..at].ends_with("</") {
                depth = depth.saturating_sub(1);
            } else {
                depth += 1;
                deepest = deepest.max(depth);
            }
            rest = &rest[at + "blockquote>".len()..];
        }
        deepest
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn any_markdown_renders_balanced_and_without_script(
            md in "([>*_`|#\\-\\[\\]()!<: \n]|[a-z]{1,6}|<script>|javascript:|  |1\\. ){0,200}"
        ) {
            let html = to_safe_html(&md);
            proptest::prop_assert!(!html.contains("<script"), "{}", html);
            proptest::prop_assert!(!html.contains("href=\"javascript:"), "{}", html);
            for tag in ["blockquote", "ul", "ol", "li", "table", "em", "strong", "a"] {
                proptest::prop_assert_eq!(
                    html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count(),
                    html.matches(&format!("</{tag}>")).count(),
                    "{} in {}", tag, html
                );
            }
            proptest::prop_assert!(quote_depth(&html) <= MAX_NESTING);
        }

        #[test]
        fn quotes_nest_as_written_up_to_the_cap(
            n in 0usize..64,
            marker in proptest::prelude::prop_oneof![proptest::prelude::Just(">"), proptest::prelude::Just("> ")],
            text in "[a-z]{1,10}",
        ) {
            let html = to_safe_html(&format!("{}{text}", marker.repeat(n)));
            proptest::prop_assert_eq!(quote_depth(&html), n.min(MAX_NESTING));
            proptest::prop_assert!(html.contains(&text));
        }
    }
}
