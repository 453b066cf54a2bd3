//! `workspace-regex` and `branch-regex`: compiled filters with Atlantis' semantics, in
//! Atlantis' dialect (Go's RE2 syntax, read by [`re2`]).

pub mod re2;

use std::ops::Range;

use regex_automata::meta::{Config, Regex};

/// A compiled filter. Matching is unanchored (a substring search, as Go's
/// `regexp.MatchString`), and the empty pattern matches everything.
#[derive(Debug, Clone)]
pub struct Filter {
    pattern: String,
    regex: Option<Regex>,
}

/// Why a pattern does not compile, shaped for a located diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexProblem {
    /// `error parsing regexp: <explanation>: `<pattern>``, Atlantis' prefix first.
    pub message: String,
    /// The pattern and a caret under the offending position.
    pub notes: Vec<String>,
    /// Character offset of the problem within the pattern.
    pub offset: usize,
}

impl Filter {
    /// The filter that matches everything (an unset key).
    pub fn any() -> Self {
        Self {
            pattern: String::new(),
            regex: None,
        }
    }

    /// Compiles `pattern`.
    ///
    /// # Errors
    /// A [`RegexProblem`] with Go's error text and where in the pattern it points.
    pub fn compile(pattern: &str) -> Result<Self, RegexProblem> {
        if pattern.is_empty() {
            return Ok(Self::any());
        }
        let hir = re2::parse(pattern).map_err(|e| {
            let offset = pattern[..e.offset.min(pattern.len())].chars().count();
            RegexProblem {
                message: e.to_string(),
                notes: vec![pattern.to_string(), format!("{}^", " ".repeat(offset))],
                offset,
            }
        })?;
        // The meta engine without its full DFA: `tracing-subscriber` turns on
        // regex-automata's `dfa-build`, which makes a build determinize every small pattern
        // up front (page-faulting fresh memory for each); with 1,000 webhooks that was most
        // of `herald check`. The lazy DFA still makes matching fast.
        let regex = Regex::builder()
            .configure(
                Config::new()
                    .dfa(false)
                    // Go's limits are on the pattern (counts within 1,000); the NFA of a
                    // Unicode class repeated 1,000 times is large but is what Go accepts.
                    .nfa_size_limit(None),
            )
            .build_from_hir(&hir)
            .map_err(|e| RegexProblem {
                message: format!(
                    "error parsing regexp: expression too large: `{pattern}` ({})",
                    one_line(&e.to_string())
                ),
                notes: Vec::new(),
                offset: 0,
            })?;
        Ok(Self {
            pattern: pattern.to_string(),
            regex: Some(regex),
        })
    }

    /// The pattern as written (empty when unset).
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// True when the filter lets everything through.
    pub fn is_any(&self) -> bool {
        self.regex.is_none()
    }

    /// Whether `value` passes.
    pub fn is_match(&self, value: &str) -> bool {
        self.regex.as_ref().is_none_or(|r| r.is_match(value))
    }

    /// The first matched span in `value`; `Some(0..0)` for the empty pattern.
    pub fn find(&self, value: &str) -> Option<Range<usize>> {
        match &self.regex {
            None => Some(0..0),
            Some(r) => r.find(value).map(|m| m.range()),
        }
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .last()
        .unwrap_or(s)
        .trim_start_matches("error: ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unanchored_and_empty() {
        let f = Filter::compile("prod").expect("ok");
        assert!(f.is_match("preprod"));
        assert_eq!(f.find("preprod"), Some(3..7));
        assert!(Filter::compile("").expect("ok").is_match("anything"));
        assert!(!Filter::compile("^prod$").expect("ok").is_match("preprod"));
    }

    #[test]
    fn syntax_error_has_prefix_and_caret() {
        let p = Filter::compile("ab(").expect_err("bad");
        assert_eq!(p.message, "error parsing regexp: missing closing ): `ab(`");
        assert_eq!(p.notes, vec!["ab(".to_string(), "  ^".to_string()]);
        let p = Filter::compile("x{2,1}").expect_err("bad");
        assert!(
            p.message.starts_with("error parsing regexp: "),
            "{}",
            p.message
        );
    }
}
