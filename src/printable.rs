//! Text from outside made safe for an operator's terminal.
//!
//! Event fields come from any poster and error texts from any receiver; printed raw, a
//! terminal acts on what they carry: OSC 52 writes the clipboard, OSC 0 the window title,
//! CSI sequences clear the screen or move the cursor, OSC 8 makes a lying hyperlink, and
//! bidi overrides show text in another order than it is. [`clean`] shows every such
//! character as a visible escape instead, and [`json`] keeps JSON output valid while
//! escaping the characters serde_json leaves raw.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether a terminal may act on `c`: C0 controls (but newline and tab), DEL, C1 controls,
/// and the bidi embeddings, overrides and isolates.
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `text` with every character a terminal could act on shown as an escape (`\x1b`,
/// `\u{9b}`, `\u{202e}`); newlines and tabs are kept.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !is_unsafe(c) {
            out.push(c);
        } else if c.is_ascii() {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

/// JSON text with the C1 controls and bidi characters written as `\u` escapes (serde_json
/// escapes C0 controls itself). Those characters can only stand inside strings, so the
/// result is the same JSON value.
pub fn json(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) && !c.is_ascii() {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_shown_not_sent() {
        let hostile = "ok\x1b]52;c;cHduZWQ=\x07 \x1b[2J\u{9b}31m \u{202e}txt.exe\r\nnext\tline";
        let shown = clean(hostile);
        assert_eq!(
            shown,
            "ok\\x1b]52;c;cHduZWQ=\\x07 \\x1b[2J\\u{9b}31m \\u{202e}txt.exe\\x0d\nnext\tline"
        );
        assert!(matches!(clean("plain café ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_stays_the_same_value() {
        let v = serde_json::json!({"t": "a\u{9b}b\u{202e}c\x1bd"});
        let text = serde_json::to_string(&v).expect("json");
        let safe = json(&text);
        assert!(!safe.chars().any(is_unsafe), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).expect("valid");
        assert_eq!(back, v);
    }
}
