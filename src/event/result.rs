//! A run's `ResultMessage` (Atlantis PR #5599) made fit to show: the step output of a plan
//! or apply can be the whole Terraform output, coloured with ANSI codes, with a provider's
//! URL credentials in it. Every place that shows it (Slack, the console) shows its end,
//! cleaned the same way; HTTP receivers get it unchanged, as Atlantis would send it.

use std::sync::LazyLock;

use regex::Regex;
use unicode_segmentation::UnicodeSegmentation;

/// CSI sequences (colours, cursor moves), OSC sequences (titles, links) and other
/// two-byte escapes, as terminals read them.
static ANSI: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a constant pattern
    Regex::new(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]").unwrap()
});

/// `scheme://user:password@` in running text: the password is replaced.
static URL_CREDENTIAL: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a constant pattern
    Regex::new(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^@\s/]+@").unwrap()
});

/// The text with ANSI escapes removed and URL passwords replaced by `<redacted>`.
pub fn clean(text: &str) -> String {
    let plain = ANSI.replace_all(text, "");
    let plain = plain.replace('\r', "");
    URL_CREDENTIAL
        .replace_all(&plain, "${1}:<redacted>@")
        .into_owned()
}

/// The last `lines` lines of `text`, at most `graphemes` grapheme clusters of them (never
/// splitting one), and whether anything was left out. Trailing blank lines do not count.
pub fn tail(text: &str, lines: usize, graphemes: usize) -> (String, bool) {
    let trimmed = text.trim_end();
    let all: Vec<&str> = trimmed.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut cut = start > 0;
    let kept = all[start..].join("\n");
    let count = kept.graphemes(true).count();
    let kept = if count > graphemes {
        cut = true;
        kept.graphemes(true).skip(count - graphemes).collect()
    } else {
        kept
    };
    (kept, cut)
}

/// What a chat shows of a result message: cleaned, its last `lines` lines within
/// `graphemes`, with `…` first when something was left out. `None` when there is nothing
/// to show.
pub fn shown(text: &str, lines: usize, graphemes: usize) -> Option<String> {
    let clean = clean(text);
    if clean.trim().is_empty() {
        return None;
    }
    // One grapheme is kept for the ellipsis.
    let (kept, cut) = tail(&clean, lines, graphemes.saturating_sub(2));
    Some(if cut { format!("…\n{kept}") } else { kept })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_and_passwords_go() {
        let t = "\x1b[32m+\x1b[0m create\n\x1b]0;title\x07git https://bot:ghp_x@github.com/o/r";
        assert_eq!(
            clean(t),
            "+ create\ngit https://bot:<redacted>@github.com/o/r"
        );
    }

    #[test]
    fn the_end_is_kept_within_both_limits() {
        let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        let (kept, cut) = tail(&text, 3, 1000);
        assert_eq!(kept, "line 98\nline 99\nline 100");
        assert!(cut);
        let (kept, cut) = tail("ab\ncdé", 20, 3);
        assert_eq!(kept, "cdé");
        assert!(cut);
        assert_eq!(tail("one\n", 20, 100), ("one".to_string(), false));
        assert_eq!(shown("\x1b[0m \n", 20, 100), None);
    }
}
