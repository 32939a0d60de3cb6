//! Rendering changes as text, JSON or a Markdown table.

use std::fmt::Write;

use super::{Change, Severity};

/// One line per change: `BREAKING operation-removed DELETE /v1/x  #/paths/~1v1~1x/delete: ...`.
pub fn text(changes: &[Change]) -> String {
    changes
        .iter()
        .map(|c| {
            let Change {
                rule,
                severity,
                method,
                path,
                pointer,
                message,
            } = c;
            format!("{severity} {rule} {method} {path}  {pointer}: {message}\n")
        })
        .collect()
}

pub fn json(changes: &[Change]) -> serde_json::Result<String> {
    serde_json::to_string_pretty(changes).map(|json| json + "\n")
}

/// A table per severity, most severe first, for a CHANGELOG.
pub fn markdown(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "No API changes.\n".to_owned();
    }
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = String::new();
    for (severity, title) in [
        (Severity::Breaking, "Breaking changes"),
        (Severity::Warning, "Warnings"),
        (Severity::Info, "Other changes"),
    ] {
        let rows: Vec<_> = changes.iter().filter(|c| c.severity == severity).collect();
        if rows.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        // Writing to a String cannot fail.
        _ = writeln!(
            out,
            "### {title}\n\n| Operation | Change | Rule | Where |\n| --- | --- | --- | --- |"
        );
        for c in rows {
            let (operation, message) = (format!("{} {}", c.method, c.path), cell(&c.message));
            _ = writeln!(
                out,
                "| `{}` | {message} | `{}` | `{}` |",
                cell(&operation),
                c.rule,
                cell(&c.pointer)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(severity: Severity, rule: &'static str, message: &str) -> Change {
        Change {
            rule,
            severity,
            method: "DELETE".to_owned(),
            path: "/v1/x".to_owned(),
            pointer: "#/paths/~1v1~1x/delete".to_owned(),
            message: message.to_owned(),
        }
    }

    #[test]
    fn text_is_one_line_per_change() {
        let changes = [change(
            Severity::Breaking,
            "operation-removed",
            "operation removed",
        )];
        assert_eq!(
            text(&changes),
            "BREAKING operation-removed DELETE /v1/x  #/paths/~1v1~1x/delete: operation removed\n"
        );
    }

    #[test]
    fn json_is_an_array_with_lower_case_severity() -> serde_json::Result<()> {
        let changes = [change(Severity::Warning, "default-changed", "m")];
        let value: serde_json::Value = serde_json::from_str(&json(&changes)?)?;
        assert_eq!(
            value,
            serde_json::json!([{
                "rule": "default-changed", "severity": "warning", "method": "DELETE",
                "path": "/v1/x", "pointer": "#/paths/~1v1~1x/delete", "message": "m",
            }])
        );
        Ok(())
    }

    #[test]
    fn markdown_groups_by_severity_and_escapes_cells() {
        let changes = [
            change(Severity::Breaking, "operation-removed", "a | b"),
            change(Severity::Info, "operation-added", "c"),
        ];
        let expected = "\
### Breaking changes

| Operation | Change | Rule | Where |
| --- | --- | --- | --- |
| `DELETE /v1/x` | a \\| b | `operation-removed` | `#/paths/~1v1~1x/delete` |

### Other changes

| Operation | Change | Rule | Where |
| --- | --- | --- | --- |
| `DELETE /v1/x` | c | `operation-added` | `#/paths/~1v1~1x/delete` |
";
        assert_eq!(markdown(&changes), expected);
        assert_eq!(markdown(&[]), "No API changes.\n");
    }
}
