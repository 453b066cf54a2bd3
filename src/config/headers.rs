//! `--webhook-http-headers`: extra headers for every HTTP webhook.
//!
//! The value is a JSON object whose values are a string or an array of strings (one header
//! line per element, in order). Error texts are Atlantis' own (which are Go's), so a
//! message a user searches for finds the Atlantis docs and issues too.

use serde_json::Value;

/// Header lines in the order they are sent: a name and its values (several values are
/// sent as repeated lines). Names are kept as written; HTTP names are case-insensitive.
pub type Headers = Vec<(String, Vec<String>)>;

/// Go's name for the type of a JSON value, as `encoding/json` decodes it into `interface{}`.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Parses the flag's JSON text. An empty string means no headers.
///
/// # Errors
/// The message Atlantis gives for the same input (without its `invalid
/// --webhook-http-headers: ` prefix, which the caller adds).
pub fn parse_json(text: &str) -> Result<Headers, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    if let Some(e) = super::go_json::syntax_error(text) {
        return Err(e);
    }
    let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    match value {
        // Go decodes `null` into a map without complaint: no headers.
        Value::Null => Ok(Vec::new()),
        Value::Object(map) => from_pairs(map.into_iter()),
        other => Err(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            match other {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                _ => "bool",
            }
        )),
    }
}

/// Turns name/value pairs into headers, checking each value is a string or an array of
/// strings and that names and values are valid in HTTP.
///
/// # Errors
/// Atlantis' message for a wrong value type, or a message naming an invalid header.
pub fn from_pairs(pairs: impl Iterator<Item = (String, Value)>) -> Result<Headers, String> {
    let mut out: Headers = Vec::new();
    for (name, value) in pairs {
        let values = match value {
            Value::String(s) => vec![s],
            Value::Array(items) => {
                let mut vals = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => vals.push(s),
                        other => {
                            return Err(format!(
                                "expected string array element, got {}",
                                go_type(&other)
                            ));
                        }
                    }
                }
                vals
            }
            other => return Err(format!("expected string or array, got {}", go_type(&other))),
        };
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("{name:?} is not a valid HTTP header name"));
        }
        if values
            .iter()
            .any(|v| reqwest::header::HeaderValue::from_str(v).is_err())
        {
            return Err(format!(
                "header {name:?} has a value that is not valid in HTTP (control characters or line breaks)"
            ));
        }
        // Duplicate JSON keys: the last one wins, as in Go.
        out.retain(|(n, _)| n != &name);
        out.push((name, values));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atlantis_header_flag_cases() {
        assert_eq!(parse_json(""), Ok(vec![]));
        let h = parse_json(
            r#"{"Authorization":"Bearer some-token","X-Custom-Header":["value1","value2"]}"#,
        )
        .expect("valid");
        assert_eq!(
            h,
            vec![
                (
                    "Authorization".to_string(),
                    vec!["Bearer some-token".to_string()]
                ),
                (
                    "X-Custom-Header".to_string(),
                    vec!["value1".to_string(), "value2".to_string()]
                ),
            ]
        );
        assert_eq!(
            parse_json(r#"{"X-Custom-Header":true}"#),
            Err("expected string or array, got bool".to_string())
        );
        assert_eq!(
            parse_json(r#"{"X-Custom-Header":[1, 2]}"#),
            Err("expected string array element, got float64".to_string())
        );
        assert_eq!(
            parse_json(r#"{"X":null}"#),
            Err("expected string or array, got <nil>".to_string())
        );
        assert_eq!(
            parse_json(r#"["a"]"#),
            Err(
                "json: cannot unmarshal array into Go value of type map[string]interface {}"
                    .to_string()
            )
        );
        assert_eq!(
            parse_json("{").expect_err("bad"),
            "unexpected end of JSON input"
        );
        assert_eq!(
            parse_json(r#"{"X":[]}"#),
            Ok(vec![("X".to_string(), vec![])])
        );
    }
}
