//! Knowledge content as HTML: Markdown rendered with every piece of raw HTML dropped and
//! link targets limited to safe schemes, so nothing a user typed can run as script.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag};

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
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, parser);
    out
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
}
