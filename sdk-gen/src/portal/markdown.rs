//! Markdown (descriptions, guides, the changelog) to HTML. Raw HTML in the source is escaped:
//! the spec's text is data, not markup.

use pulldown_cmark::{Event, Options, Parser, html};

fn render(text: &str) -> String {
    let parser = Parser::new_ext(text, Options::ENABLE_TABLES).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

/// Paragraphs, lists, tables.
pub fn block(text: &str) -> String {
    render(text)
}

/// One paragraph's inline markup, without the `<p>` around it.
pub fn inline(text: &str) -> String {
    let out = render(text);
    let trimmed = out.trim_end();
    match trimmed
        .strip_prefix("<p>")
        .and_then(|s| s.strip_suffix("</p>"))
    {
        Some(inner) if !inner.contains("<p>") => inner.to_owned(),
        _ => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_and_escaping() {
        assert_eq!(
            inline("Send `Idempotency-Key`."),
            "Send <code>Idempotency-Key</code>."
        );
        assert_eq!(
            inline("<script>x</script>"),
            "&lt;script&gt;x&lt;/script&gt;"
        );
        assert!(block("| a |\n| --- |\n| b |").contains("<table>"));
    }
}
