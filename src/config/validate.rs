//! Turning the parsed YAML into [`Webhook`]s, with every check Atlantis makes (and its
//! words) plus herald's own, all collected rather than stopping at the first.

mod schedule;
mod template;

use std::time::Duration;

use serde_yaml::Value;

use super::yaml_pos::{Node, Pos};
use super::{
    Config, DEFAULT_TIMEOUT, Diagnostic, DriftErrors, EventKind, Filter, HeraldSettings,
    LoadOptions, Location, Report, RetryPolicy, Webhook, WebhookKey, headers,
};
use crate::event::Subject;
use crate::notify::kind::Finding;
use crate::secret::Secret;

/// Keys every webhook entry may have: Atlantis' four, the two of Atlantis PR #5557 and
/// herald's eight; each kind adds
/// its own (Atlantis' `channel` and `url`).
const WEBHOOK_KEYS: [&str; 14] = [
    "event",
    "kind",
    "workspace-regex",
    "branch-regex",
    "project-regex",
    "directory-regex",
    "drift-errors",
    "template",
    "template-file",
    "name",
    "headers",
    "secret",
    "timeout",
    "retry",
];

/// A value of a mapping with where its key and value are.
#[derive(Clone, Copy)]
pub(super) struct Field<'a> {
    value: &'a Value,
    node: Option<&'a Node>,
    key_pos: Pos,
    pos: Pos,
}

impl<'a> Field<'a> {
    fn of(map: &'a Value, node: Option<&'a Node>, parent: Pos, key: &str) -> Option<Self> {
        let value = map.get(key)?;
        let entry = node.and_then(|n| n.entry(key));
        let key_pos = entry.map_or(parent, |e| e.key_pos);
        Some(Self {
            value,
            node: entry.map(|e| &e.value),
            key_pos,
            pos: entry.map_or(key_pos, |e| e.value.pos()),
        })
    }
}

/// Validation state: where problems go and how positions map to the file.
pub(super) struct Ctx<'a> {
    pub report: &'a mut Report,
    /// Line and column shift of the document inside the file (non-zero for Helm values).
    pub shift: (usize, usize),
    pub vars: &'a (dyn Fn(&str) -> Option<String> + Send + Sync),
    /// Filters compiled so far in this load, by pattern: configs repeat their patterns
    /// (`^main$` on every apply webhook), and a compiled regex is shared, not rebuilt.
    pub compiled: std::collections::HashMap<String, Filter>,
}

impl Ctx<'_> {
    fn at(&self, p: Pos) -> Location {
        Location::File(Pos {
            line: p.line + self.shift.0,
            col: p.col + self.shift.1,
        })
    }

    fn error(&mut self, p: Pos, msg: impl Into<String>) {
        let loc = self.at(p);
        self.report.push(Diagnostic::error(loc, msg));
    }

    fn warn(&mut self, p: Pos, msg: impl Into<String>) {
        let loc = self.at(p);
        self.report.push(Diagnostic::warning(loc, msg));
    }

    /// A scalar read the way viper reads it (weakly typed: numbers and booleans become
    /// their text, null becomes empty), with `${VAR}` expanded.
    fn string(&mut self, f: Field<'_>, key: &str) -> Option<String> {
        let raw = match f.value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            _ => {
                self.error(f.pos, format!("\"{key}\" must be a string"));
                return None;
            }
        };
        self.expand(&raw, f.pos)
    }

    /// Replaces `${NAME}` with the environment variable's value.
    fn expand(&mut self, raw: &str, pos: Pos) -> Option<String> {
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        let mut ok = true;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                out.push_str(&rest[start..start + 3 + end]);
            } else if let Some(v) = (self.vars)(name) {
                out.push_str(&v);
            } else {
                self.error(
                    pos,
                    format!("environment variable {name} is not set (used as ${{{name}}})"),
                );
                ok = false;
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        ok.then_some(out)
    }

    /// Reads every top-level setting herald uses into `config`.
    pub fn top_level(
        &mut self,
        root: &Value,
        node: Option<&Node>,
        opts: &LoadOptions,
        config: &mut Config,
    ) {
        let start = Pos::START;
        // slack-token: flag, then environment (both resolved by the caller), then the file.
        if let Some((token, loc)) = &opts.slack_token {
            config.slack_token = Some(Secret::new(token.clone()));
            config.slack_token_location = Some(loc.clone());
        } else if let Some(f) = Field::of(root, node, start, "slack-token")
            && let Some(t) = self.string(f, "slack-token")
        {
            config.slack_token = Some(Secret::new(t));
            config.slack_token_location = Some(self.at(f.key_pos));
        }
        if config.slack_token.as_ref().is_some_and(Secret::is_empty) {
            config.slack_token = None;
        }

        // slack-include-body (Atlantis PR #6794): the flag or environment, then the file.
        if let Some(include) = opts.slack_include_body {
            config.slack_include_body = include;
        } else if let Some(f) = Field::of(root, node, start, "slack-include-body") {
            match f.value {
                Value::Bool(b) => config.slack_include_body = *b,
                Value::String(s) if go_bool(s).is_some() => {
                    config.slack_include_body = go_bool(s).unwrap_or(true);
                }
                Value::Null => {}
                _ => self.error(f.pos, "\"slack-include-body\" must be true or false"),
            }
        }

        if let Some((json, loc)) = &opts.http_headers {
            match headers::parse_json(json) {
                Ok(h) => config.http_headers = h,
                Err(e) => self.report.push(Diagnostic::error(
                    loc.clone(),
                    format!("invalid --webhook-http-headers: {e}"),
                )),
            }
        } else if let Some(f) = Field::of(root, node, start, "webhook-http-headers") {
            let parsed = match f.value {
                // The flag's form: a JSON string.
                Value::String(_) => self
                    .string(f, "webhook-http-headers")
                    .map(|s| headers::parse_json(&s)),
                // herald also takes a YAML mapping, which is easier to write in a file.
                Value::Mapping(_) => self.headers_map(f),
                Value::Null => None,
                _ => Some(Err(
                    "json: cannot unmarshal array into Go value of type map[string]interface {}"
                        .to_string(),
                )),
            };
            match parsed {
                Some(Ok(h)) => config.http_headers = h,
                Some(Err(e)) => self.error(f.pos, format!("invalid --webhook-http-headers: {e}")),
                None => {}
            }
        }

        if let Some(f) = Field::of(root, node, start, "herald") {
            config.herald = self.herald(f);
        }

        match Field::of(root, node, start, "webhooks") {
            None
            | Some(Field {
                value: Value::Null, ..
            }) => {}
            Some(f) => match f.value {
                Value::Sequence(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let item_node = f.node.and_then(|n| n.item(i));
                        let pos = item_node.map_or(f.pos, Node::pos);
                        if let Some(w) = self.webhook(i, item, item_node, pos, config) {
                            config.webhooks.push(w);
                        }
                    }
                }
                _ => self.error(f.pos, "\"webhooks\" must be a list of webhook entries"),
            },
        }
        self.check_names(config);
        assign_keys(config);
    }

    fn check_names(&mut self, config: &Config) {
        for (i, w) in config.webhooks.iter().enumerate() {
            let Some(name) = &w.name else { continue };
            if let Some(first) = config.webhooks[..i]
                .iter()
                .find(|o| o.name.as_ref() == Some(name))
            {
                self.error(
                    Pos {
                        line: w.line,
                        col: 1,
                    },
                    format!(
                        "webhook name \"{name}\" is already used by webhook #{}",
                        first.index
                    ),
                );
            }
            if name.starts_with(WebhookKey::UNNAMED) {
                self.error(
                    Pos { line: w.line, col: 1 },
                    format!("webhook name \"{name}\" starts with \"{}\", which herald keeps for unnamed webhooks; choose another", WebhookKey::UNNAMED),
                );
            }
            if name.parse::<usize>().is_ok() {
                self.error(
                    Pos { line: w.line, col: 1 },
                    format!("webhook name \"{name}\" is a number, which --webhook reads as an index; choose a word"),
                );
            }
        }
    }

    /// One entry of `webhooks:`. Checks run in Atlantis' order and all of them run.
    #[allow(clippy::too_many_lines)]
    fn webhook(
        &mut self,
        index: usize,
        value: &Value,
        node: Option<&Node>,
        pos: Pos,
        config: &Config,
    ) -> Option<Webhook> {
        if !matches!(value, Value::Mapping(_)) {
            self.error(
                pos,
                "a webhook entry must be a mapping with \"event\" and \"kind\" keys",
            );
            return None;
        }
        let get = |key: &str| Field::of(value, node, pos, key);
        let read = |this: &mut Self, key: &str| {
            get(key)
                .and_then(|f| this.string(f, key))
                .unwrap_or_default()
        };
        let event = read(self, "event");
        let kind = read(self, "kind");
        let patterns: Vec<(Subject, String)> = Subject::ALL
            .into_iter()
            .map(|s| (s, read(self, s.key())))
            .collect();
        let name = read(self, "name");

        self.unknown_keys(value, node, pos);

        let at = |key: &str| get(key).map_or(pos, |f| f.pos);
        if kind.is_empty() || event.is_empty() {
            self.error(pos, "must specify \"kind\" and \"event\" keys for webhooks");
            return None;
        }
        let event = match event.as_str() {
            "apply" => EventKind::Apply,
            "plan" => EventKind::Plan,
            "drift" => EventKind::Drift,
            other => {
                self.error(
                    at("event"),
                    format!("\"event: {other}\" not supported. Only \"event: apply\" and \"event: drift\" are supported"),
                );
                return None;
            }
        };
        let mut ok = true;
        // Compiled in PR #5557's order (workspace, branch, project, directory), before the
        // kind is looked at, so a bad pattern is reported first, as Atlantis reports it.
        let mut filters = [Filter::any(), Filter::any(), Filter::any(), Filter::any()];
        for (subject, pattern) in &patterns {
            if event.is_run() {
                // "branch" in the anchoring hint, as herald has always said it.
                let tested = match subject {
                    Subject::BaseBranch => "branch",
                    other => other.noun(),
                };
                filters[subject.index()] = self.filter(pattern, at(subject.key()), tested, &mut ok);
            } else if !pattern.is_empty() {
                let key = subject.key();
                self.warn(
                    get(key).map_or(pos, |f| f.key_pos),
                    format!(
                        "\"{key}\" is ignored on drift webhooks (Atlantis ignores it too): \
                         every drift report is sent; remove the key"
                    ),
                );
            }
        }
        let [
            workspace_regex,
            branch_regex,
            project_regex,
            directory_regex,
        ] = filters;
        let drift_errors = match read(self, "drift-errors").as_str() {
            "" | "include" => DriftErrors::Include,
            "skip" => DriftErrors::Skip,
            "only" => DriftErrors::Only,
            other => {
                self.error(
                    at("drift-errors"),
                    format!("\"drift-errors: {other}\" is not one of include, skip, only"),
                );
                ok = false;
                DriftErrors::Include
            }
        };
        if event != EventKind::Drift && get("drift-errors").is_some() {
            self.warn(
                get("drift-errors").map_or(pos, |f| f.key_pos),
                "\"drift-errors\" only applies to drift webhooks; remove the key",
            );
        }

        let drift = event == EventKind::Drift;
        let target = match crate::notify::kind::KINDS.iter().find(|k| k.name == kind) {
            Some(spec) => {
                let values: Vec<(&str, String)> =
                    spec.keys.iter().map(|k| (*k, read(self, k))).collect();
                let field = |key: &str| {
                    values
                        .iter()
                        .find(|(k, _)| *k == key)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let mut findings = Vec::new();
                let target = (spec.parse)(
                    &crate::notify::kind::Entry {
                        event,
                        field: &field,
                        has_slack_token: config.slack_token.is_some(),
                    },
                    &mut findings,
                );
                for f in findings {
                    match f {
                        Finding::Error(key, msg) => {
                            ok = false;
                            self.error(if key.is_empty() { pos } else { at(key) }, msg);
                        }
                        Finding::Warning(key, msg) => {
                            self.warn(if key.is_empty() { pos } else { at(key) }, msg);
                        }
                    }
                }
                target
            }
            None => {
                let other = kind;
                // Atlantis' words, with herald's kinds: "slack" and "http" reads exactly
                // as Atlantis says it.
                let names: Vec<String> = crate::notify::kind::KINDS
                    .iter()
                    .map(|k| format!("\"kind: {}\"", k.name))
                    .collect();
                // "a and b" as Atlantis v0.47 says it; "a, b, and c" as its PR #5672 (the
                // msteams kind) says it.
                let only = match names.split_last() {
                    Some((last, [])) => last.clone(),
                    Some((last, [one])) => format!("{one} and {last}"),
                    Some((last, rest)) => format!("{}, and {last}", rest.join(", ")),
                    None => String::new(),
                };
                let msg = if drift {
                    format!(
                        "\"kind: {other}\" not supported for drift webhooks. Only {only} are supported"
                    )
                } else {
                    format!("\"kind: {other}\" not supported. Only {only} are supported right now")
                };
                self.error(at("kind"), msg);
                None
            }
        };

        let headers = match get("headers") {
            None
            | Some(Field {
                value: Value::Null, ..
            }) => Vec::new(),
            Some(f) => match self.headers_map(f) {
                Some(Ok(h)) => h,
                Some(Err(e)) => {
                    self.error(f.pos, format!("invalid \"headers\": {e}"));
                    ok = false;
                    Vec::new()
                }
                None => {
                    ok = false;
                    Vec::new()
                }
            },
        };
        let secret = get("secret")
            .and_then(|f| self.string(f, "secret"))
            .filter(|s| !s.is_empty());
        if let Some(s) = &secret {
            match crate::notify::sign::key(s) {
                Err(e) => {
                    self.error(at("secret"), format!("\"secret\" {e}"));
                    ok = false;
                }
                Ok(key) if !s.starts_with("whsec_") => self.warn(
                    at("secret"),
                    format!(
                        "\"secret\" has no \"whsec_\" prefix: it is read as base64, as the Standard Webhooks libraries read it ({} key bytes); mint one with `herald secret`",
                        key.len()
                    ),
                ),
                Ok(key) if key.len() < 16 => self.warn(
                    at("secret"),
                    format!(
                        "\"secret\" is a key of {} bytes; use 24 or more random bytes (`herald secret` mints one)",
                        key.len()
                    ),
                ),
                Ok(_) => {}
            }
        }
        let timeout = match get("timeout") {
            None => DEFAULT_TIMEOUT,
            Some(f) => self
                .duration(f, "timeout", &mut ok)
                .unwrap_or(DEFAULT_TIMEOUT),
        };
        let retry = match get("retry") {
            None => RetryPolicy::default(),
            Some(f) => self.retry(f, &mut ok),
        };
        let template = self.template(&get, config, &mut ok);
        let target = target?;
        ok.then(|| Webhook {
            index,
            name: (!name.is_empty()).then_some(name),
            event,
            target,
            workspace_regex,
            branch_regex,
            project_regex,
            directory_regex,
            drift_errors,
            template,
            headers,
            secret: secret.map(Secret::new),
            timeout,
            retry,
            line: pos.line + self.shift.0,
            key: WebhookKey::default(),
        })
    }

    fn unknown_keys(&mut self, value: &Value, node: Option<&Node>, pos: Pos) {
        let Value::Mapping(map) = value else { return };
        for key in map.keys() {
            let Some(key) = key.as_str() else { continue };
            let known = || {
                WEBHOOK_KEYS
                    .iter()
                    .chain(crate::notify::kind::KINDS.iter().flat_map(|k| k.keys))
            };
            if known().any(|k| *k == key) {
                continue;
            }
            let normalised = key.to_ascii_lowercase().replace('_', "-");
            let suggestion = known()
                .find(|k| **k == normalised || k.replace('-', "") == normalised.replace('-', ""))
                .map(|k| format!("; did you mean \"{k}\"?"))
                .unwrap_or_default();
            let p = node.and_then(|n| n.entry(key)).map_or(pos, |e| e.key_pos);
            self.warn(p, format!("unknown key \"{key}\" in a webhook entry is ignored (by Atlantis too){suggestion}"));
        }
    }

    fn filter(&mut self, pattern: &str, pos: Pos, tested: &str, ok: &mut bool) -> Filter {
        let compiled = match self.compiled.get(pattern) {
            Some(f) => Ok(f.clone()),
            None => Filter::compile(pattern).inspect(|f| {
                self.compiled.insert(pattern.to_string(), f.clone());
            }),
        };
        match compiled {
            Ok(f) => {
                let looks_exact = !pattern.is_empty()
                    && pattern
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '/');
                if looks_exact {
                    self.warn(
                        pos,
                        format!(
                            "\"{pattern}\" is not anchored, so it matches any {tested} containing it \
                             (\"{pattern}\" also matches \"pre{pattern}\"); write \"^{pattern}$\" for an exact match"
                        ),
                    );
                }
                f
            }
            Err(problem) => {
                *ok = false;
                let loc = self.at(pos);
                self.report
                    .push(Diagnostic::error(loc, problem.message).with_notes(problem.notes));
                Filter::any()
            }
        }
    }

    /// A mapping of header names to a string or a list of strings.
    fn headers_map(&mut self, f: Field<'_>) -> Option<Result<headers::Headers, String>> {
        let Value::Mapping(map) = f.value else {
            return Some(Err(
                "expected a mapping of header names to values".to_string()
            ));
        };
        let mut pairs = Vec::new();
        for (k, v) in map {
            let name = match k {
                Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            let json = match v {
                Value::Sequence(items) => {
                    let mut out = Vec::new();
                    for item in items {
                        out.push(match item {
                            Value::String(s) => serde_json::Value::String(self.expand(s, f.pos)?),
                            Value::Number(n) => serde_json::json!(n.as_f64()),
                            Value::Bool(b) => serde_json::Value::Bool(*b),
                            _ => serde_json::Value::Null,
                        });
                    }
                    serde_json::Value::Array(out)
                }
                Value::String(s) => serde_json::Value::String(self.expand(s, f.pos)?),
                Value::Number(n) => serde_json::Value::String(n.to_string()),
                Value::Bool(b) => serde_json::Value::Bool(*b),
                _ => serde_json::Value::Null,
            };
            pairs.push((name, json));
        }
        Some(headers::from_pairs(pairs.into_iter()))
    }

    fn duration(&mut self, f: Field<'_>, key: &str, ok: &mut bool) -> Option<Duration> {
        let text = self.string(f, key)?;
        match parse_duration(&text) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                *ok = false;
                self.error(f.pos, format!("\"{key}\" must be longer than zero"));
                None
            }
            Err(e) => {
                *ok = false;
                self.error(f.pos, format!("\"{key}\": {e}"));
                None
            }
        }
    }

    fn retry(&mut self, f: Field<'_>, ok: &mut bool) -> RetryPolicy {
        let mut policy = RetryPolicy::default();
        let Value::Mapping(map) = f.value else {
            *ok = false;
            self.error(
                f.pos,
                "\"retry\" must be a mapping with \"max-attempts\" and/or \"schedule\"",
            );
            return policy;
        };
        for key in map.keys().filter_map(Value::as_str) {
            if !["max-attempts", "schedule"].contains(&key) {
                let p = f
                    .node
                    .and_then(|n| n.entry(key))
                    .map_or(f.pos, |e| e.key_pos);
                *ok = false;
                self.error(p, format!("unknown key \"{key}\" in \"retry\" (expected \"max-attempts\" or \"schedule\")"));
            }
        }
        if let Some(m) = Field::of(f.value, f.node, f.pos, "max-attempts") {
            match self.string(m, "max-attempts").map(|s| s.parse::<u32>()) {
                Some(Ok(n)) if (1..=100).contains(&n) => policy.max_attempts = n,
                Some(_) => {
                    *ok = false;
                    self.error(
                        m.pos,
                        "\"max-attempts\" must be a whole number from 1 to 100",
                    );
                }
                None => *ok = false,
            }
        }
        if let Some(s) = Field::of(f.value, f.node, f.pos, "schedule") {
            let Value::Sequence(items) = s.value else {
                *ok = false;
                self.error(
                    s.pos,
                    "\"schedule\" must be a list of waits such as [10s, 1m, 5m]",
                );
                return policy;
            };
            let mut schedule = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let node = s.node.and_then(|n| n.item(i));
                let field = Field {
                    value: item,
                    node,
                    key_pos: s.pos,
                    pos: node.map_or(s.pos, Node::pos),
                };
                if let Some(d) = self.duration(field, "schedule", ok) {
                    schedule.push(d);
                }
            }
            if !schedule.is_empty() {
                policy.schedule = schedule;
            }
        }
        policy
    }

    fn herald(&mut self, f: Field<'_>) -> HeraldSettings {
        let mut s = HeraldSettings::default();
        let Value::Mapping(map) = f.value else {
            if !f.value.is_null() {
                self.error(f.pos, "\"herald\" must be a mapping of herald settings");
            }
            return s;
        };
        const KEYS: [&str; 9] = [
            "journal",
            "ingest-token",
            "env0-secret",
            "operator-token",
            "viewer-token",
            "retention",
            "theme",
            "drift-schedule",
            "drift-stale-after",
        ];
        for key in map.keys().filter_map(Value::as_str) {
            if !KEYS.contains(&key) {
                let p = f
                    .node
                    .and_then(|n| n.entry(key))
                    .map_or(f.pos, |e| e.key_pos);
                self.error(
                    p,
                    format!(
                        "unknown key \"{key}\" in \"herald\" (expected one of: {})",
                        KEYS.join(", ")
                    ),
                );
            }
        }
        let field = |k: &str| Field::of(f.value, f.node, f.pos, k);
        s.ingest_token = field("ingest-token")
            .and_then(|x| self.string(x, "ingest-token"))
            .filter(|t| !t.is_empty())
            .map(Secret::new);
        s.env0_secret = field("env0-secret")
            .and_then(|x| self.string(x, "env0-secret"))
            .filter(|t| !t.is_empty())
            .map(Secret::new);
        s.operator_token = field("operator-token")
            .and_then(|x| self.string(x, "operator-token"))
            .filter(|t| !t.is_empty())
            .map(Secret::new);
        s.viewer_token = field("viewer-token")
            .and_then(|x| self.string(x, "viewer-token"))
            .filter(|t| !t.is_empty())
            .map(Secret::new);
        s.theme = field("theme")
            .and_then(|x| self.string(x, "theme"))
            .filter(|t| !t.is_empty());
        if let Some(j) = field("journal")
            && let Some(text) = self.string(j, "journal").filter(|t| !t.is_empty())
        {
            match crate::store::Location::parse(&text) {
                Ok(_) => s.journal = Some(Secret::new(text)),
                Err(e) => self.error(j.pos, e.to_string()),
            }
        }
        if let Some(d) = field("drift-schedule") {
            s.drift_schedule = self.drift_schedules(d);
        }
        if let Some(d) = field("drift-stale-after") {
            let mut ok = true;
            s.drift_stale_after = self.duration(d, "drift-stale-after", &mut ok);
        }
        if let Some(r) = field("retention") {
            let mut ok = true;
            for key in r
                .value
                .as_mapping()
                .into_iter()
                .flat_map(|m| m.keys())
                .filter_map(Value::as_str)
            {
                if !["max-age", "max-events"].contains(&key) {
                    let p = r
                        .node
                        .and_then(|n| n.entry(key))
                        .map_or(r.pos, |e| e.key_pos);
                    self.error(p, format!("unknown key \"{key}\" in \"retention\" (expected \"max-age\" or \"max-events\")"));
                }
            }
            if let Some(age) = Field::of(r.value, r.node, r.pos, "max-age") {
                s.retention_max_age = self.duration(age, "max-age", &mut ok);
            }
            if let Some(n) = Field::of(r.value, r.node, r.pos, "max-events") {
                match self.string(n, "max-events").map(|t| t.parse::<u64>()) {
                    Some(Ok(v)) if v > 0 => s.retention_max_events = Some(v),
                    Some(_) => {
                        self.error(n.pos, "\"max-events\" must be a whole number above zero")
                    }
                    None => {}
                }
            }
        }
        s
    }
}

/// A duration written as `10s`, `1m30s`, `500ms` or a bare number of seconds.
///
/// # Errors
/// A message saying what was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>()
        && (0.0..1e9).contains(&secs)
    {
        return Ok(Duration::from_secs_f64(secs));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("\"{t}\" is not a duration ({e}); write it like 10s, 1m30s or 500ms"))
}

/// Gives every webhook its [`WebhookKey`]; identical unnamed entries are told apart by
/// their order among themselves.
fn assign_keys(config: &mut Config) {
    let mut seen: std::collections::HashMap<WebhookKey, usize> = std::collections::HashMap::new();
    for w in &mut config.webhooks {
        let first = WebhookKey::new(w.name.as_deref(), w.event, &w.target, 1);
        let nth = seen.entry(first.clone()).or_insert(0);
        *nth += 1;
        w.key = if *nth == 1 {
            first
        } else {
            WebhookKey::new(w.name.as_deref(), w.event, &w.target, *nth)
        };
    }
}

/// A boolean as Go's `strconv.ParseBool` reads it (what Atlantis' flags take).
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}
