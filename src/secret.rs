//! A string that must never be printed: Slack tokens, header values, signing secrets.

use std::fmt;

/// A secret value. `Debug` and `Display` print a mask, so a secret that slips into a log
/// line or an error message shows nothing; the value is only reachable through
/// [`Secret::expose`], which makes every use visible in review.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no value was given (Atlantis treats an empty token as "not set").
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A short, safe hint of the value: its kind prefix for Slack tokens, nothing else.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks a secret value for display: Slack tokens keep their `xoxb-` style prefix so the
/// user can tell a bot token from a user token, everything else becomes `<redacted>`.
pub fn mask(value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    for prefix in ["xoxb-", "xoxp-", "xoxa-", "xoxe-", "xapp-", "whsec_"] {
        if value.starts_with(prefix) {
            return format!("{prefix}<redacted>");
        }
    }
    "<redacted>".to_string()
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("xoxb-1234-abcdef");
        assert_eq!(format!("{s}"), "xoxb-<redacted>");
        assert!(!format!("{s:?}").contains("abcdef"));
        assert_eq!(Secret::new("hunter2").masked(), "<redacted>");
        assert_eq!(s.expose(), "xoxb-1234-abcdef");
    }
}
