//! Keeping credentials out of every text herald shows or stores.
//!
//! Atlantis' apply path logs full URLs and raw response bodies; its drift path reduces URLs
//! to `scheme://host` and masks `token=`-style values. herald applies the stricter drift rule
//! everywhere, and also removes any configured secret value that a receiver echoes back.

use std::sync::LazyLock;

use regex::Regex;

/// What a removed value is replaced with.
pub const REDACTED: &str = "<redacted>";

static URL_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b[a-z][a-z0-9+.\-]*://[^\s"'<>`]+"#).expect("static regex")
});

static SECRET_PARAM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(access_token|token|key|secret|signature|password|passwd|sig)=([^&\s"'`]+)"#)
        .expect("static regex")
});

/// Splits `scheme://authority/rest` into its parts without judging the URL's validity, so
/// that even an unparsable URL can be reduced safely.
fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, after) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    Some((scheme, &after[..end], &after[end..]))
}

/// `scheme://host[:port]` of a URL, the only part of a destination that errors show.
/// Credentials, path (a Slack incoming-webhook path is itself the secret) and query are
/// dropped; a URL that cannot be split reads `<invalid-url>`.
pub fn url_origin(url: &str) -> String {
    match split_url(url.trim()) {
        Some((scheme, authority, _)) if !authority.is_empty() => {
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{}://{}", scheme.to_ascii_lowercase(), host)
        }
        _ => "<invalid-url>".to_string(),
    }
}

/// A URL with its secrets masked but its path kept, for places where the user must see
/// where a request goes (dry runs, the webhook list): the password (or a lone user part,
/// which is how tokens are often passed) becomes `<redacted>`, so do `token=`-style query
/// values, and the path of a Slack incoming webhook.
pub fn url_masked(url: &str) -> String {
    let Some((scheme, authority, rest)) = split_url(url.trim()) else {
        return "<invalid-url>".to_string();
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:{REDACTED}@{host}"),
            None => format!("{REDACTED}@{host}"),
        },
        None => authority.to_string(),
    };
    let rest =
        if authority.eq_ignore_ascii_case("hooks.slack.com") && rest.starts_with("/services/") {
            format!("/services/{REDACTED}")
        } else {
            SECRET_PARAM
                .replace_all(rest, format!("${{1}}={REDACTED}"))
                .into_owned()
        };
    format!("{scheme}://{authority}{rest}")
}

/// A Slack incoming-webhook URL as it may be shown: its path is the credential, so only
/// the origin (and Slack's `/services/` prefix) is kept.
pub fn secret_path_url(url: &str) -> String {
    let origin = url_origin(url);
    let services = split_url(url.trim()).is_some_and(|(_, _, rest)| rest.starts_with("/services/"));
    if services {
        format!("{origin}/services/{REDACTED}")
    } else {
        format!("{origin}/{REDACTED}")
    }
}

/// Replaces the password of a clone URL with `<redacted>`, exactly as Atlantis builds its
/// `SanitizedCloneURL` (`https://user:<redacted>@host/...`). A URL without a password is
/// returned unchanged.
pub fn clone_url(url: &str) -> String {
    let Some((scheme, authority, rest)) = split_url(url) else {
        return url.to_string();
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, password)) if !password.is_empty() && password != REDACTED => {
                format!("{scheme}://{user}:{REDACTED}@{host}{rest}")
            }
            _ => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Cleans free text (an error message, a response body) before it is shown or stored:
/// every configured secret value is removed, every URL is reduced to its origin (with
/// `<redacted>@` where it carried credentials), and `token=`-style values are masked.
pub fn sanitize(text: &str, secrets: &[&str]) -> String {
    // URLs first, while their credentials are intact enough to be recognised as URLs.
    let mut out = URL_IN_TEXT
        .replace_all(text, |caps: &regex::Captures<'_>| {
            let url = &caps[0];
            let had_userinfo = split_url(url).is_some_and(|(_, a, _)| a.contains('@'));
            let origin = url_origin(url);
            if had_userinfo {
                origin.replacen("://", &format!("://{REDACTED}@"), 1)
            } else {
                origin
            }
        })
        .into_owned();
    for secret in secrets {
        // Very short values would mask ordinary words; herald warns about such secrets
        // in the config, so skipping them here is safe.
        if secret.len() >= 4 {
            out = out.replace(secret, REDACTED);
        }
    }
    SECRET_PARAM
        .replace_all(&out, format!("${{1}}={REDACTED}"))
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_drops_credentials_path_and_query() {
        assert_eq!(
            url_origin("https://user:secret@example.com:8443/hooks/sensitive?token=super-secret"),
            "https://example.com:8443"
        );
        assert_eq!(url_origin("not a url"), "<invalid-url>");
    }

    #[test]
    fn masked_keeps_path_but_not_secrets() {
        assert_eq!(
            url_masked("https://user:secret@example.com/hooks?token=abc&x=1"),
            "https://user:<redacted>@example.com/hooks?token=<redacted>&x=1"
        );
        assert_eq!(
            url_masked("https://hooks.slack.com/services/T1/B2/XYZ"),
            "https://hooks.slack.com/services/<redacted>"
        );
    }

    #[test]
    fn clone_url_matches_atlantis_sanitized_form() {
        assert_eq!(
            clone_url("https://bot:ghp_abc123@github.com/o/r.git"),
            "https://bot:<redacted>@github.com/o/r.git"
        );
        assert_eq!(
            clone_url("https://:@github.com/o/r.git"),
            "https://:@github.com/o/r.git"
        );
    }

    #[test]
    fn sanitize_removes_everything_secret() {
        let text = r#"Post "https://user:secret@example.com/hooks/sensitive?access_token=super-secret": refused; header Bearer sk-live-9999"#;
        let clean = sanitize(text, &["sk-live-9999"]);
        for bad in [
            "user:secret",
            "super-secret",
            "/hooks/sensitive",
            "sk-live-9999",
        ] {
            assert!(!clean.contains(bad), "{bad} left in {clean}");
        }
        assert!(clean.contains("https://<redacted>@example.com"));
    }
}
