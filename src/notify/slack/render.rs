//! A Slack message laid out as Slack shows it, in plain text: the colour bar, the
//! headline, and short fields side by side. The fake Slack prints it, and the console
//! draws the same layout.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;
use unicode_segmentation::UnicodeSegmentation;

/// The colour of an attachment's bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bar {
    /// `good`: green.
    Good,
    /// `danger`: red.
    Danger,
    /// `warning` or a hex colour.
    Other,
    /// No attachment.
    None,
}

/// A message laid out in lines; `bar` applies to every line but the first (the summary).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rendered {
    /// The notification text.
    pub summary: String,
    /// The attachment's bar colour.
    pub bar: Bar,
    /// The attachment's lines, bar not included.
    pub lines: Vec<String>,
}

static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<([^<>|]*)\|([^<>]*)>|<([^<>|]+)>").expect("static regex"));

/// Slack mrkdwn to what a reader sees: links show their label, entities are decoded.
pub fn plain(mrkdwn: &str) -> String {
    let s = LINK.replace_all(mrkdwn, |c: &regex::Captures<'_>| {
        c.get(2)
            .or_else(|| c.get(3))
            .map_or(String::new(), |m| m.as_str().to_string())
    });
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `s` cut or padded to exactly `width` columns, `…` marking a cut.
fn pad(s: &str, width: usize) -> String {
    let n = s.graphemes(true).count();
    if n > width {
        let mut out: String = s.graphemes(true).take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    } else {
        format!("{s}{}", " ".repeat(width - n))
    }
}

/// Breaks a paragraph into lines of at most `width` graphemes, at spaces where it can.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut len = 0;
        for word in para.split(' ') {
            let wlen = word.graphemes(true).count();
            if len > 0 && len + 1 + wlen > width {
                lines.push(std::mem::take(&mut line));
                len = 0;
            }
            if len > 0 {
                line.push(' ');
                len += 1;
            }
            if wlen > width {
                // A word longer than a line is cut into pieces.
                for g in word.graphemes(true) {
                    if len == width {
                        lines.push(std::mem::take(&mut line));
                        len = 0;
                    }
                    line.push_str(g);
                    len += 1;
                }
            } else {
                line.push_str(word);
                len += wlen;
            }
        }
        lines.push(line);
    }
    lines
}

/// Lays out a `chat.postMessage` or incoming-webhook body for a column `width` wide.
pub fn render(body: &Value, width: usize) -> Rendered {
    let summary = plain(body.get("text").and_then(Value::as_str).unwrap_or_default());
    let Some(att) = body.get("attachments").and_then(|a| a.get(0)) else {
        return Rendered {
            summary,
            bar: Bar::None,
            lines: Vec::new(),
        };
    };
    let bar = match att.get("color").and_then(Value::as_str) {
        Some("good") => Bar::Good,
        Some("danger") => Bar::Danger,
        Some(_) => Bar::Other,
        None => Bar::None,
    };
    let mut lines = Vec::new();
    if let Some(t) = att.get("text").and_then(Value::as_str) {
        lines.extend(wrap(&plain(t), width));
    }
    let fields: Vec<(String, String, bool)> = att
        .get("fields")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .map(|f| {
                    let s = |k: &str| plain(f.get(k).and_then(Value::as_str).unwrap_or_default());
                    (
                        s("title"),
                        s("value"),
                        f.get("short").and_then(Value::as_bool).unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let col = (width.saturating_sub(2) / 2).max(10);
    let mut i = 0;
    while i < fields.len() {
        let (t1, v1, short1) = &fields[i];
        let pair = fields.get(i + 1).filter(|(_, _, s2)| *short1 && *s2);
        if let Some((t2, v2, _)) = pair {
            lines.push(format!(
                "{}  {}",
                pad(t1, col - 2),
                pad(t2, col - 2).trim_end()
            ));
            lines.push(format!(
                "{}  {}",
                pad(v1, col - 2),
                pad(v2, col - 2).trim_end()
            ));
            i += 2;
        } else {
            lines.push(t1.clone());
            lines.extend(wrap(v1, width));
            i += 1;
        }
    }
    Rendered {
        summary,
        bar,
        lines,
    }
}

impl Rendered {
    /// The message for a terminal, the bar drawn in colour unless `color` is false (then
    /// the bar's meaning is spelled out, so it never depends on colour alone).
    pub fn to_terminal(&self, color: bool) -> String {
        let (code, word) = match self.bar {
            Bar::Good => ("32", "good"),
            Bar::Danger => ("31", "danger"),
            Bar::Other => ("33", "note"),
            Bar::None => ("0", ""),
        };
        let mut out = format!("{}\n", self.summary);
        for (i, line) in self.lines.iter().enumerate() {
            let bar = if color {
                format!("\x1b[{code}m▌\x1b[0m ")
            } else if i == 0 && !word.is_empty() {
                format!("▌[{word}] ")
            } else {
                "▌ ".to_string()
            };
            out.push_str(&format!("{bar}{line}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn links_and_short_fields() {
        let body = json!({"text": "Apply succeeded for a/b", "attachments": [{"color": "good",
            "text": "Apply succeeded for <https://x/pull/1|a/b &amp; c>",
            "fields": [{"title": "Workspace", "value": "prod", "short": true}, {"title": "Branch", "value": "f", "short": true},
                       {"title": "Description", "value": "long", "short": false}]}]});
        let r = render(&body, 42);
        assert_eq!(r.bar, Bar::Good);
        assert_eq!(r.lines[0], "Apply succeeded for a/b & c");
        assert_eq!(r.lines[1], "Workspace           Branch");
        assert_eq!(r.lines[2], "prod                f");
        assert_eq!(r.lines[3], "Description");
    }
}
