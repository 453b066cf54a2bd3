//! An event as a title, facts and rows of plain text: what the chat and paging kinds that
//! take text rather than a layout of their own (Discord, Google Chat, PagerDuty) say, each
//! within its own limits.

use crate::event::{DriftNotice, Event, NoticeKind, drift::display_dir};

/// How the event went, for a colour or a severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A run that succeeded, no drift.
    Good,
    /// A failed run, drift found, a failed detection.
    Bad,
    /// Errored projects and no drift, a repository gone quiet.
    Warn,
}

/// The event in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// One line: `Apply failed for acme/infra`.
    pub title: String,
    /// How it went.
    pub verdict: Verdict,
    /// Named values, in order.
    pub facts: Vec<(String, String)>,
    /// One line per project (drift) or the run's result's last lines.
    pub rows: Vec<String>,
    /// Where to look: the PR, env0's page.
    pub link: Option<String>,
}

impl Digest {
    /// The digest of `event`.
    pub fn of(event: &Event) -> Self {
        match event {
            Event::Apply(a) | Event::Plan(a) => {
                let verb = if a.success { "succeeded" } else { "failed" };
                let mut facts = vec![
                    ("Workspace".to_string(), a.workspace.clone()),
                    ("Branch".to_string(), a.pull.base_branch.clone()),
                    ("User".to_string(), a.user.username.clone()),
                    ("Directory".to_string(), display_dir(&a.directory)),
                ];
                if a.pull.num > 0 {
                    facts.push(("Pull Request".into(), format!("#{}", a.pull.num)));
                }
                if !a.project_name.is_empty() {
                    facts.push(("Project".into(), a.project_name.clone()));
                }
                let rows = a
                    .result_message
                    .as_deref()
                    .and_then(|m| crate::event::result::shown(m, 20, 1_500))
                    .map(|s| s.lines().map(str::to_string).collect())
                    .unwrap_or_default();
                Self {
                    title: format!("{} {verb} for {}", event.step(), a.repo.full_name),
                    verdict: if a.success {
                        Verdict::Good
                    } else {
                        Verdict::Bad
                    },
                    facts,
                    rows,
                    link: a.pull.url.starts_with("http").then(|| a.pull.url.clone()),
                }
            }
            Event::Drift(d) => {
                let r = &d.result;
                let errored = r.errored();
                let subject = format!("{}@{}", r.repository, r.git_ref);
                let (title, verdict) = if r.projects_with_drift > 0 {
                    (format!("Drift detected in {subject}"), Verdict::Bad)
                } else if errored > 0 {
                    (
                        format!("Drift unknown in {subject}: {errored} projects errored"),
                        Verdict::Warn,
                    )
                } else {
                    (format!("No drift in {subject}"), Verdict::Good)
                };
                let mut facts = vec![
                    (
                        "Projects with drift".to_string(),
                        format!("{} / {}", r.projects_with_drift, r.total_projects),
                    ),
                    ("Detection ID".to_string(), r.detection_id.clone()),
                ];
                if errored > 0 {
                    facts.push(("Projects with errors".into(), errored.to_string()));
                }
                let mut projects: Vec<_> = r
                    .projects
                    .iter()
                    .filter(|p| p.has_drift || !p.error.is_empty())
                    .collect();
                projects.sort_by_key(|p| !p.has_drift);
                let rows = projects
                    .into_iter()
                    .map(|p| {
                        if p.error.is_empty() {
                            format!(
                                "{}: +{} ~{} −{}",
                                p.label(),
                                p.to_add,
                                p.to_change,
                                p.to_destroy
                            )
                        } else {
                            format!(
                                "⚠ {}: error: {}",
                                p.label(),
                                crate::event::drift::first_line(&p.error)
                            )
                        }
                    })
                    .collect();
                Self {
                    title,
                    verdict,
                    facts,
                    rows,
                    link: d
                        .env0
                        .as_ref()
                        .map(|e| e.url.clone())
                        .filter(|u| u.starts_with("http")),
                }
            }
            Event::Notice(n) => notice(n),
        }
    }

    /// The facts and rows as text lines, each row prefixed, cut to `max` characters with a
    /// last line saying how many rows were left out.
    pub fn body(&self, fact: impl Fn(&str, &str) -> String, max: usize) -> String {
        let mut out = String::new();
        for (k, v) in &self.facts {
            out.push_str(&fact(k, v));
            out.push('\n');
        }
        let total = self.rows.len();
        for (i, row) in self.rows.iter().enumerate() {
            // Room kept for the "…and K more" line.
            if out.chars().count() + row.chars().count() + 1 + 40 > max {
                out.push_str(&format!("…and {} more", total - i));
                return out;
            }
            out.push_str(row);
            out.push('\n');
        }
        out.trim_end().to_string()
    }
}

fn notice(n: &DriftNotice) -> Digest {
    let mut facts = vec![
        ("Repository".to_string(), n.repository.clone()),
        ("Ref".to_string(), n.git_ref.clone()),
    ];
    if let Some(s) = n.status {
        facts.push(("Atlantis answered".into(), s.to_string()));
    }
    if let Some(at) = &n.last_report_at {
        facts.push(("Last report".into(), at.clone()));
    }
    Digest {
        title: n.summary(),
        verdict: match n.event {
            NoticeKind::DriftFailed => Verdict::Bad,
            NoticeKind::DriftStale => Verdict::Warn,
        },
        facts,
        rows: Vec::new(),
        link: None,
    }
}

/// `s` cut to at most `max` characters, `…` marking a cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}
