//! The drift panes: Drift (reports red when drifted, green when clean, amber when projects
//! errored, and herald's notices) and Schedules (herald's drift schedules: when each
//! repository was last checked and when it runs next). Words and symbols carry the state
//! too, so both read without colour.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::block;
use super::lists::{clock, filter_title, visible};
use crate::event::{DriftReport, Event, NoticeKind};
use crate::tui::app::App;
use crate::tui::theme::Theme;

/// "45 s", "3 min", "31 h", "2 d": how long `ms` is, in its largest whole unit.
pub fn span(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..172_800 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// "31 h ago" or "in 4 h", against the console's clock.
fn relative(app: &App, at: i64) -> String {
    if app.now_ms == 0 {
        return clock(at);
    }
    if at <= app.now_ms {
        format!("{} ago", span(app.now_ms - at))
    } else {
        format!("in {}", span(at - app.now_ms))
    }
}

/// A report's state as a word and a style.
fn state(d: &DriftReport, theme: &Theme) -> (&'static str, Style) {
    let r = &d.result;
    // Drift wins; a report with errored projects and no drift is not "clean".
    if r.projects_with_drift > 0 {
        ("✗ DRIFT", theme.drifted)
    } else if r.errored() > 0 {
        ("⚠ error", theme.warn)
    } else {
        ("✓ clean", theme.clean)
    }
}

/// The Drift pane.
pub fn drift(frame: &mut Frame<'_>, app: &App, theme: &Theme, list: Rect, side: Rect) {
    let rows_idx = app.drift_rows();
    let selected = app.selected().min(rows_idx.len().saturating_sub(1));
    let rows: Vec<Row<'_>> = visible(&rows_idx, selected, list)
        .map(|(n, i)| {
            let e = &app.events[i];
            let (word, style, name, counts) = match e.event.as_ref() {
                Event::Drift(d) => {
                    let r = &d.result;
                    let (word, style) = state(d, theme);
                    let name = match d.env0.as_ref().filter(|x| !x.environment.is_empty()) {
                        Some(x) => format!("{} ({})", r.repository, x.environment),
                        None => r.repository.clone(),
                    };
                    let counts = format!("{}/{}", r.projects_with_drift, r.total_projects);
                    (word, style, name, counts)
                }
                Event::Notice(n) => {
                    let (word, style) = match n.event {
                        NoticeKind::DriftFailed => ("✗ failed", theme.bad),
                        NoticeKind::DriftStale => ("⌛ stale", theme.warn),
                    };
                    (word, style, n.repository.clone(), "-".to_string())
                }
                Event::Apply(_) | Event::Plan(_) => return Row::new(Vec::<Cell<'_>>::new()),
            };
            let row = Row::new(vec![
                Cell::from(Span::styled(clock(e.received_at), theme.muted)),
                Cell::from(Span::styled(word, style)),
                Cell::from(Span::styled(name, style)),
                Cell::from(Span::styled(counts, style)),
            ]);
            if n == selected {
                row.style(theme.selection)
            } else {
                row
            }
        })
        .collect();
    let header = Row::new(vec!["time", "state", "repository", "drifted"]).style(theme.header);
    let widths = vec![
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Min(10),
        Constraint::Length(7),
    ];
    let t = Table::new(rows, widths).header(header);
    let title = filter_title(app, &format!("Drift ({})", rows_idx.len()));
    frame.render_widget(t.block(block(&title, theme, true)), list);

    let lines = match rows_idx.get(selected).map(|&i| &app.events[i]) {
        None => vec![Line::styled("No drift reports yet.", theme.muted)],
        Some(e) => match e.event.as_ref() {
            Event::Drift(d) => report_lines(app, d, theme),
            Event::Notice(n) => {
                let style = match n.event {
                    NoticeKind::DriftFailed => theme.bad,
                    NoticeKind::DriftStale => theme.warn,
                };
                let mut lines = vec![
                    Line::styled(n.summary(), style),
                    Line::styled(
                        format!(
                            "{} · herald's own notice to the drift webhooks",
                            n.event.as_str()
                        ),
                        theme.muted,
                    ),
                ];
                if !n.error.is_empty() {
                    lines.push(Line::raw(""));
                    lines.extend(
                        n.error
                            .lines()
                            .map(|l| Line::styled(l.to_string(), theme.text)),
                    );
                }
                lines
            }
            Event::Apply(_) | Event::Plan(_) => Vec::new(),
        },
    };
    frame.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .block(block("Report", theme, false)),
        side,
    );
}

fn report_lines<'a>(app: &App, d: &DriftReport, theme: &Theme) -> Vec<Line<'a>> {
    let r = &d.result;
    let mut lines = Vec::new();
    let (word, style) = if r.projects_with_drift > 0 {
        ("DRIFT DETECTED", theme.drifted)
    } else if r.errored() > 0 {
        ("UNKNOWN (ERRORS)", theme.warn)
    } else {
        ("NO DRIFT", theme.clean)
    };
    lines.push(Line::styled(format!("{word} in {}", r.repository), style));
    if r.errored() > 0 {
        lines.push(Line::styled(
            format!(
                "⚠ {} of {} projects errored (Atlantis would send nothing)",
                r.errored(),
                r.total_projects
            ),
            theme.warn,
        ));
    }
    lines.push(Line::styled(
        format!("ref {} · detection {}", r.git_ref, r.detection_id),
        theme.muted,
    ));
    // How long since this repository's newest report: amber past drift-stale-after.
    if let Some(seen) = app.last_report(&format!("{}@{}", r.repository, r.git_ref)) {
        lines.push(Line::styled(
            format!("last report {}", relative(app, seen.last_at)),
            if seen.stale { theme.warn } else { theme.muted },
        ));
    }
    if let Some(x) = &d.env0 {
        lines.push(Line::styled(
            format!("env0 {} · {} · {}", x.environment, x.project, x.status),
            theme.info,
        ));
        if !x.url.is_empty() {
            lines.push(Line::styled(x.url.clone(), theme.muted));
        }
        if !x.cause.is_empty() {
            lines.push(Line::styled(x.cause.clone(), theme.muted));
        }
    }
    lines.push(Line::raw(""));
    for p in &r.projects {
        if !p.error.is_empty() {
            lines.push(Line::styled(
                format!(
                    "⚠ {:<18} error: {}",
                    p.label(),
                    crate::event::drift::first_line(&p.error)
                ),
                theme.warn,
            ));
            continue;
        }
        let (sym, s) = if p.has_drift {
            ("✗", theme.drifted)
        } else {
            ("✓", theme.clean)
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{sym} {:<18} ", p.label()), s),
            Span::styled(format!("+{}", p.to_add), theme.ok),
            Span::raw(" "),
            Span::styled(format!("~{}", p.to_change), theme.warn),
            Span::raw(" "),
            Span::styled(format!("-{}", p.to_destroy), theme.bad),
        ]));
    }
    if let Some(x) = &d.env0 {
        for rc in x.resources.iter().take(8) {
            lines.push(Line::styled(
                format!("  {} {}", rc.action, rc.address),
                theme.muted,
            ));
        }
    }
    lines
}

/// The Schedules pane: one row per `drift-schedule:` entry (last checked, how it went,
/// next run); the side panel has the last run's words and every repository's last report.
pub fn schedules(frame: &mut Frame<'_>, app: &App, theme: &Theme, list: Rect, side: Rect) {
    let rows_idx = app.schedule_rows();
    let selected = app.selected().min(rows_idx.len().saturating_sub(1));
    let rows: Vec<Row<'_>> = visible(&rows_idx, selected, list)
        .map(|(n, i)| {
            let s = &app.drift.schedules[i];
            let (last, style) = match (s.running, s.last_ok, s.last_finished_at) {
                (true, _, _) => ("⟳ checking".to_string(), theme.warn),
                (false, Some(true), Some(at)) => (format!("✓ {}", relative(app, at)), theme.ok),
                (false, Some(false), Some(at)) => (format!("✗ {}", relative(app, at)), theme.bad),
                _ => ("never".to_string(), theme.muted),
            };
            let next = s.next_run_at.map_or_else(
                || "-".to_string(),
                |at| {
                    if at <= app.now_ms {
                        "due".to_string()
                    } else {
                        relative(app, at)
                    }
                },
            );
            let row = Row::new(vec![
                Cell::from(Span::styled(s.subject.clone(), theme.text)),
                Cell::from(Span::styled(last, style)),
                Cell::from(Span::styled(next, theme.info)),
                Cell::from(Span::styled(s.when.clone(), theme.muted)),
            ]);
            if n == selected {
                row.style(theme.selection)
            } else {
                row
            }
        })
        .collect();
    let header =
        Row::new(vec!["repository@ref", "last checked", "next", "when"]).style(theme.header);
    // The subject as wide as the longest (within 16 to 48 columns); `when` takes the rest.
    let subject = app
        .drift
        .schedules
        .iter()
        .map(|s| s.subject.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(16, 48);
    let widths = vec![
        Constraint::Length(u16::try_from(subject).unwrap_or(16)),
        Constraint::Length(13),
        Constraint::Length(10),
        Constraint::Min(8),
    ];
    let title = filter_title(app, &format!("Schedules ({})", rows_idx.len()));
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block(&title, theme, true)),
        list,
    );

    let mut lines: Vec<Line<'_>> = Vec::new();
    match rows_idx
        .get(selected)
        .and_then(|&i| app.drift.schedules.get(i))
    {
        None => {
            lines.push(Line::styled("No drift schedules.", theme.muted));
            lines.push(Line::styled(
                "Add herald.drift-schedule to the config (see the README) and serve asks Atlantis' drift API on an interval or cron.",
                theme.muted,
            ));
        }
        Some(s) => {
            lines.push(Line::styled(s.subject.clone(), theme.header));
            lines.push(Line::styled(
                format!("{} · {}", s.atlantis, s.when),
                theme.muted,
            ));
            if let Some(said) = &s.last_said {
                let style = if s.last_ok == Some(true) {
                    theme.ok
                } else {
                    theme.bad
                };
                lines.push(Line::styled(format!("last: {said}"), style));
            }
            lines.push(Line::styled("r asks Atlantis now", theme.keyhint));
        }
    }
    lines.push(Line::raw(""));
    let after = app
        .drift
        .stale_after_ms
        .map(|ms| {
            format!(
                " (stale after {})",
                span(i64::try_from(ms).unwrap_or(i64::MAX))
            )
        })
        .unwrap_or_default();
    lines.push(Line::styled(format!("Last reports{after}"), theme.header));
    if app.drift.seen.is_empty() {
        lines.push(Line::styled("none in the last week", theme.muted));
    }
    for seen in &app.drift.seen {
        lines.push(Line::styled(
            format!("{:<28} {}", seen.subject, relative(app, seen.last_at)),
            if seen.stale { theme.warn } else { theme.text },
        ));
    }
    frame.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .block(block("Drift watch", theme, false)),
        side,
    );
}
