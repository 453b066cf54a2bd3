//! Writing one webhook value back into the config file, changing nothing else: comments,
//! order, quoting of other values and blank lines stay as the user wrote them.

use super::load::helm_inner;
use super::yaml_pos::{self, Node};

/// Why a value cannot be written back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteBackError {
    /// The file does not parse (or has no such webhook).
    #[error("{0}")]
    NotFound(String),
    /// The entry or value is in a form herald does not rewrite safely.
    #[error("{0}; edit the file by hand")]
    Unsupported(String),
}

/// Returns `text` with `webhooks[index].<key>` set to `value`. An existing value is
/// replaced where it stands, in the same quoting style when that is safe; a missing key is
/// added as a new line at the end of the entry, indented like its other keys. Works on a
/// Helm values file too, inside its `config: |` block.
///
/// # Errors
/// When the entry cannot be found, is written inline (`{...}`), or the old value spans
/// several lines.
pub fn set_webhook_value(
    text: &str,
    index: usize,
    key: &str,
    value: &str,
) -> Result<String, WriteBackError> {
    let root_node = yaml_pos::parse(text)
        .ok_or_else(|| WriteBackError::NotFound("the file does not parse as YAML".into()))?;
    let root_value: serde_yaml::Value = serde_yaml::from_str(text)
        .map_err(|e| WriteBackError::NotFound(format!("the file does not parse: {e}")))?;
    // In a Helm values file the config is a block inside `config: |`.
    let (inner_text, shift) = match helm_inner(&root_value, Some(&root_node), text) {
        Some((inner, shift)) => (inner, shift),
        None => (text.to_string(), (0, 0)),
    };
    let node = if shift == (0, 0) && inner_text == text {
        root_node
    } else {
        yaml_pos::parse(&inner_text).ok_or_else(|| {
            WriteBackError::NotFound("the Helm `config:` block does not parse".into())
        })?
    };
    let entry = node
        .entry("webhooks")
        .and_then(|w| w.value.item(index))
        .ok_or_else(|| WriteBackError::NotFound(format!("webhook #{index} is not in the file")))?;
    let Node::Map {
        pos: map_pos,
        entries,
    } = entry
    else {
        return Err(WriteBackError::NotFound(format!(
            "webhook #{index} is not a mapping"
        )));
    };
    let inner_lines: Vec<&str> = inner_text.lines().collect();
    let map_line = inner_lines
        .get(map_pos.line - 1)
        .copied()
        .unwrap_or_default();
    if map_line.chars().nth(map_pos.col - 1) == Some('{') {
        return Err(WriteBackError::Unsupported(format!(
            "webhook #{index} is written inline ({{...}})"
        )));
    }
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let trailing_newline = text.ends_with('\n');
    // Merged keys live in the anchored mapping; the entry gets a key of its own instead.
    let entries: Vec<&yaml_pos::Entry> = entries.iter().filter(|e| !e.merged).collect();
    match entries.iter().rev().find(|e| e.key == key) {
        Some(e) => {
            let Node::Scalar { pos, chars, plain } = &e.value else {
                return Err(WriteBackError::Unsupported(format!(
                    "\"{key}\" is not a plain value"
                )));
            };
            let old: String = inner_text
                .chars()
                .skip(chars.0)
                .take(chars.1 - chars.0)
                .collect();
            if old.contains('\n') {
                return Err(WriteBackError::Unsupported(format!(
                    "\"{key}\" spans several lines"
                )));
            }
            let (line_no, col) = (pos.line + shift.0, pos.col + shift.1);
            let line = lines.get_mut(line_no - 1).ok_or_else(|| {
                WriteBackError::NotFound("the value's line is not in the file".into())
            })?;
            let start = char_to_byte(line, col - 1);
            let end = char_to_byte(line, col - 1 + old.chars().count());
            let quoted = if old.is_empty() {
                quote(value, true)
            } else {
                match old.chars().next() {
                    Some('"') => double_quoted(value),
                    Some('\'') => single_quoted(value),
                    _ => quote(value, *plain),
                }
            };
            line.replace_range(start..end, &quoted);
        }
        None => {
            let last = entries
                .last()
                .ok_or_else(|| WriteBackError::NotFound(format!("webhook #{index} is empty")))?;
            if !matches!(last.value, Node::Scalar { .. }) {
                return Err(WriteBackError::Unsupported(format!(
                    "the last key of webhook #{index} holds a nested value"
                )));
            }
            let indent = " ".repeat(last.key_pos.col - 1 + shift.1);
            let after = last.value.pos().line + shift.0;
            lines.insert(after, format!("{indent}{key}: {}", quote(value, true)));
        }
    }
    let mut out = lines.join("\n");
    if trailing_newline {
        out.push('\n');
    }
    Ok(out)
}

fn char_to_byte(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(i, _)| i)
}

/// A value as a plain scalar when that reads back unchanged, else single-quoted.
fn quote(value: &str, plain_ok: bool) -> String {
    let safe = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "^$.*+?()|\\/-_".contains(c))
        && !value.starts_with(['*', '?', '|', '-'])
        && value.parse::<f64>().is_err()
        && !["true", "false", "null", "yes", "no", "on", "off", "~"]
            .contains(&value.to_ascii_lowercase().as_str());
    if plain_ok && safe {
        value.to_string()
    } else {
        single_quoted(value)
    }
}

/// Characters YAML reads as line breaks or may not keep as they are (controls, NEL, the
/// Unicode line and paragraph separators, a byte-order mark): only a double-quoted scalar
/// can carry them, as escapes.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

fn single_quoted(value: &str) -> String {
    if value.chars().any(needs_escape) {
        return double_quoted(value);
    }
    format!("'{}'", value.replace('\'', "''"))
}

fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if needs_escape(c) => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMENTED: &str = "\
# Atlantis server config
repo-allowlist: github.com/acme/*   # who may use us

webhooks:
  # production applies
  - event: apply
    kind: slack
    channel: C1           # #prod-deploys
    workspace-regex: prod # too loose
  - event: drift
    kind: http
    url: https://x.example/h
";

    fn changed_lines(a: &str, b: &str) -> Vec<(String, String)> {
        assert_eq!(a.lines().count(), b.lines().count(), "same number of lines");
        a.lines()
            .zip(b.lines())
            .filter(|(x, y)| x != y)
            .map(|(x, y)| (x.to_string(), y.to_string()))
            .collect()
    }

    #[test]
    fn only_the_one_value_changes() {
        let out = set_webhook_value(COMMENTED, 0, "workspace-regex", "^prod$").expect("written");
        assert_eq!(
            changed_lines(COMMENTED, &out),
            vec![(
                "    workspace-regex: prod # too loose".to_string(),
                "    workspace-regex: ^prod$ # too loose".to_string()
            )]
        );
        let out = set_webhook_value(COMMENTED, 0, "workspace-regex", "a: #b").expect("written");
        assert!(
            out.contains("    workspace-regex: 'a: #b' # too loose"),
            "{out}"
        );
        let with_token = format!("slack-token: xoxb-t\n{out}");
        let (c, _) =
            crate::config::load_str(&with_token, "t", &crate::config::LoadOptions::default())
                .expect("loads");
        assert_eq!(c.webhooks[0].workspace_regex.pattern(), "a: #b");
    }

    #[test]
    fn a_missing_key_is_added_to_the_entry() {
        let out = set_webhook_value(COMMENTED, 0, "branch-regex", "^main$").expect("written");
        assert!(
            out.contains(
                "    workspace-regex: prod # too loose\n    branch-regex: ^main$\n  - event: drift"
            ),
            "{out}"
        );
        assert_eq!(out.lines().count(), COMMENTED.lines().count() + 1);
    }

    #[test]
    fn quoting_styles_are_kept() {
        let text = "webhooks:\n  - event: apply\n    kind: http\n    url: 'https://x'\n    branch-regex: \"main\"\n";
        let out =
            set_webhook_value(text, 0, "branch-regex", "^(main|rel-\"x\")$").expect("written");
        assert!(
            out.contains("branch-regex: \"^(main|rel-\\\"x\\\")$\""),
            "{out}"
        );
    }

    #[test]
    fn helm_values_are_edited_inside_the_block() {
        let text = "image: x\nconfig: |\n  webhooks:\n    - event: apply\n      kind: http\n      url: https://x\n      workspace-regex: staging\n";
        let out = set_webhook_value(text, 0, "workspace-regex", "^staging$").expect("written");
        assert_eq!(
            changed_lines(text, &out),
            vec![(
                "      workspace-regex: staging".into(),
                "      workspace-regex: ^staging$".into()
            )]
        );
    }

    #[test]
    fn inline_entries_are_refused() {
        let text = "webhooks:\n  - {event: drift, kind: http, url: 'https://x'}\n";
        assert!(matches!(
            set_webhook_value(text, 0, "workspace-regex", "x"),
            Err(WriteBackError::Unsupported(_))
        ));
        assert!(matches!(
            set_webhook_value(text, 3, "workspace-regex", "x"),
            Err(WriteBackError::NotFound(_))
        ));
    }
}
