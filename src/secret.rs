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

/// Header names whose values are credentials, whatever they look like.
const CREDENTIAL_NAMES: [&str; 10] = [
    "auth",
    "token",
    "secret",
    "key",
    "signature",
    "password",
    "passwd",
    "session",
    "credential",
    "cookie",
];

/// The shortest value treated as a secret: a shorter one is no credential, and scrubbing it
/// would mangle ordinary words (a header `X-Debug: true` once turned every Slack answer's
/// `"ok":true` into `"ok":<redacted>`).
pub const MIN_SECRET_LEN: usize = 6;

/// Whether a header's value is a credential: by its name (`Authorization`, `X-Api-Key`,
/// `X-Auth-Token`, `Cookie`, ...) or, for any other name, by its look (16 characters or
/// more, no spaces, letters and digits mixed, as generated keys are). `Content-Type:
/// application/json` or `X-Debug: true` are not secrets.
pub fn is_secret_header(name: &str, value: &str) -> bool {
    let name = name.to_ascii_lowercase();
    if CREDENTIAL_NAMES.iter().any(|n| name.contains(n)) {
        return true;
    }
    value.len() >= 16
        && !value.contains(char::is_whitespace)
        && value.chars().any(|c| c.is_ascii_alphabetic())
        && value.chars().any(|c| c.is_ascii_digit())
}

/// The texts to scrub for one header value, when it is a credential: the value, and for an
/// `Authorization`-style `Scheme credential` value the credential alone too (a receiver
/// answering `invalid api key TOKEN` echoes it without its scheme).
pub fn header_secrets(name: &str, value: &str) -> Vec<String> {
    if !is_secret_header(name, value) {
        return Vec::new();
    }
    let mut out = vec![value.to_string()];
    if let Some((scheme, credential)) = value.trim().split_once(' ') {
        let credential = credential.trim();
        if !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !credential.contains(' ')
        {
            out.push(credential.to_string());
        }
    }
    out.retain(|s| s.len() >= MIN_SECRET_LEN);
    out
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
    fn which_header_values_are_secrets() {
        assert!(header_secrets("X-Debug", "true").is_empty());
        assert!(header_secrets("Content-Type", "application/json").is_empty());
        assert!(header_secrets("Accept", "application/vnd.github+json").is_empty());
        assert_eq!(
            header_secrets("Authorization", "Bearer sk-live-12345"),
            ["Bearer sk-live-12345", "sk-live-12345"]
        );
        assert_eq!(header_secrets("x-api-key", "abcdef"), ["abcdef"]);
        assert_eq!(
            header_secrets("X-Custom", "a1b2c3d4e5f6g7h8i9"),
            ["a1b2c3d4e5f6g7h8i9"]
        );
        assert!(header_secrets("X-Api-Key", "abc").is_empty());
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("xoxb-1234-abcdef");
        assert_eq!(format!("{s}"), "xoxb-<redacted>");
        assert!(!format!("{s:?}").contains("abcdef"));
        assert_eq!(Secret::new("hunter2").masked(), "<redacted>");
        assert_eq!(s.expose(), "xoxb-1234-abcdef");
    }
}
