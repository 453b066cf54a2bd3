//! Reading the file: YAML parsing, the Helm values form, and the sources of each setting.

use std::path::Path;

use serde_yaml::Value;

use super::validate::Ctx;
use super::yaml_pos::{self, Node, Pos};
use super::{Config, Diagnostic, LoadOptions, Location, Report, SLACK_API_URL};

/// Loads the config named in `opts` (or an empty one when there is none).
///
/// # Errors
/// A [`Report`] with every error (and the warnings) when the config cannot be used.
pub fn load(opts: &LoadOptions) -> Result<(Config, Report), Report> {
    match &opts.path {
        None => load_str("", "<no config>", opts),
        Some(path) => {
            let name = path.display().to_string();
            match std::fs::read_to_string(path) {
                Ok(text) => load_str(&text, &name, opts).map(|(mut c, r)| {
                    c.path = Some(path.clone());
                    (c, r)
                }),
                Err(e) => {
                    let mut report = Report::new(name);
                    report.push(Diagnostic::error(
                        Location::File(Pos::START),
                        format!("cannot read the config file: {e}"),
                    ));
                    Err(report)
                }
            }
        }
    }
}

/// Loads a config from its text; `file` names it in messages.
///
/// # Errors
/// A [`Report`] with every error (and the warnings) when the config cannot be used.
pub fn load_str(text: &str, file: &str, opts: &LoadOptions) -> Result<(Config, Report), Report> {
    let mut report = Report::new(file);
    let root: Value = if text.trim().is_empty() {
        Value::Null
    } else {
        match serde_yaml::from_str(text).and_then(merged) {
            Ok(v) => v,
            Err(e) => {
                let pos = e.location().map_or(Pos::START, |l| Pos {
                    line: l.line(),
                    col: l.column(),
                });
                report.push(Diagnostic::error(
                    Location::File(pos),
                    format!("invalid YAML: {e}"),
                ));
                return Err(report);
            }
        }
    };
    if !matches!(root, Value::Null | Value::Mapping(_)) {
        report.push(Diagnostic::error(
            Location::File(Pos::START),
            "the config must be a YAML mapping of Atlantis server flags (such as `webhooks:`)",
        ));
        return Err(report);
    }
    let node = yaml_pos::parse(text);
    warn_wrong_file(&root, &mut report);

    // The Helm chart's values carry the server config as a string under `config:`.
    let helm = helm_inner(&root, node.as_ref(), text);
    let (doc_value, doc_node, shift) = match &helm {
        Some((inner_text, shift)) => {
            match serde_yaml::from_str::<Value>(inner_text).and_then(merged) {
                Ok(v) => (v, yaml_pos::parse(inner_text), *shift),
                Err(e) => {
                    let pos = e.location().map_or(Pos::START, |l| Pos {
                        line: l.line() + shift.0,
                        col: l.column() + shift.1,
                    });
                    report.push(Diagnostic::error(
                        Location::File(pos),
                        format!("invalid YAML in the Helm `config:` value: {e}"),
                    ));
                    return Err(report);
                }
            }
        }
        None => (root.clone(), node, (0, 0)),
    };

    let mut ctx = Ctx {
        report: &mut report,
        shift,
        vars: opts.vars.as_ref(),
        compiled: std::collections::HashMap::new(),
    };
    let mut config = Config {
        path: opts.path.clone(),
        webhooks: Vec::new(),
        slack_token: None,
        slack_token_location: None,
        http_headers: Vec::new(),
        slack_api_url: opts
            .slack_api_url
            .clone()
            .unwrap_or_else(|| SLACK_API_URL.to_string())
            .trim_end_matches('/')
            .to_string(),
        slack_include_body: true,
        herald: Default::default(),
    };
    ctx.top_level(&doc_value, doc_node.as_ref(), opts, &mut config);
    report.sort();
    if report.errors() > 0 {
        Err(report)
    } else {
        Ok((config, report))
    }
}

/// `value` with its merge keys (`<<: *defaults`) resolved, as Atlantis' loader (viper on
/// yaml.v3) resolves them, so a file Atlantis reads means the same to herald.
fn merged(mut value: Value) -> Result<Value, serde_yaml::Error> {
    value.apply_merge()?;
    Ok(value)
}

/// `(inner text, (line shift, column shift))` when `root` is Helm values with the server
/// config in a `config:` string and no `webhooks:` of its own.
pub(crate) fn helm_inner(
    root: &Value,
    node: Option<&Node>,
    text: &str,
) -> Option<(String, (usize, usize))> {
    if root.get("webhooks").is_some() {
        return None;
    }
    let inner = root.get("config")?.as_str()?.to_string();
    let entry = node.and_then(|n| n.entry("config"));
    let shift = entry.map_or((0, 0), |e| {
        let value_pos = e.value.pos();
        let lines: Vec<&str> = text.lines().collect();
        let same_line_text = lines
            .get(e.key_pos.line.saturating_sub(1))
            .map(|l| l.trim_end())
            .unwrap_or_default();
        if same_line_text.ends_with('|')
            || same_line_text.ends_with("|-")
            || same_line_text.ends_with("|+")
        {
            // A block scalar: content starts on the next non-blank line, indented.
            let start = (e.key_pos.line..lines.len())
                .find(|&i| !lines[i].trim().is_empty())
                .unwrap_or(e.key_pos.line);
            let indent = lines
                .get(start)
                .map_or(0, |l| l.len() - l.trim_start().len());
            (start, indent)
        } else {
            (value_pos.line - 1, value_pos.col)
        }
    });
    Some((inner, shift))
}

/// Warns when the file looks like one of the two files Atlantis users most often put
/// `webhooks:` in by mistake, where Atlantis rejects or ignores it.
fn warn_wrong_file(root: &Value, report: &mut Report) {
    let has = |k: &str| root.get(k).is_some();
    let hint = if has("repos") {
        Some((
            "repos.yaml (the server-side repo config, given with --repo-config)",
            "raw.GlobalCfg",
        ))
    } else if has("version") && (has("projects") || has("workflows")) {
        Some(("atlantis.yaml (the repo-level config)", "raw.RepoCfg"))
    } else {
        None
    };
    if let Some((what, go_type)) = hint {
        report.push(Diagnostic::warning(
            Location::File(Pos::START),
            format!(
                "this file looks like {what}; webhooks belong in the server config given with \
                 --config (Atlantis rejects them here with `field webhooks not found in type {go_type}`)"
            ),
        ));
    }
}

/// The default config path: `./herald.yaml` when it exists.
pub fn default_path() -> Option<std::path::PathBuf> {
    let p = Path::new("herald.yaml");
    p.exists().then(|| p.to_path_buf())
}
