//! The Webhooks and Events panes, each a list with a side panel about the selected row,
//! and what every list shares (times, verdicts, the visible window). The drift panes are
//! in [`super::drift`].

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::{block, offset};
use crate::store::DeliveryStatus;
use crate::tui::app::{App, EventItem, Pane};
use crate::tui::theme::Theme;

/// `HH:MM:SS` (UTC) of a Unix-ms time.
pub fn clock(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The symbol, word and style of an event's deliveries as a whole.
/// How an event's deliveries went, in words (the event's own verdict is its summary's
/// colour): a "✓" beside "Apply failed" read as the apply's verdict.
pub fn delivery_state(e: &EventItem, theme: &Theme) -> (&'static str, Style) {
    let ds = &e.deliveries;
    if ds.is_empty() {
        ("– none", theme.muted)
    } else if ds.iter().any(|d| d.status == DeliveryStatus::Failed) {
        ("✗ failed", theme.bad)
    } else if ds.iter().all(|d| d.status == DeliveryStatus::Succeeded) {
        ("✓ sent", theme.ok)
    } else {
        ("⟳ sending", theme.warn)
    }
}

/// The event's own verdict as a style: red for a failed run or drift found, amber for a
/// drift report whose errored projects leave it unknown, green otherwise.
pub fn verdict(e: &EventItem, theme: &Theme) -> Style {
    if e.event.is_problem() {
        theme.bad
    } else if e.event.has_errors() {
        theme.warn
    } else {
        theme.ok
    }
}

pub(super) fn filter_title(app: &App, base: &str) -> String {
    let i = Pane::ALL.iter().position(|p| *p == app.pane).unwrap_or(0);
    match &app.filters[i] {
        Some(f) => format!(
            "{base} /{}{}",
            f.input.value(),
            if f.editing { "▏" } else { "" }
        ),
        None => base.to_string(),
    }
}

/// The rows of `indexes` that fit in `area` around `selected`: only those are built, so a
/// long list costs no more to draw than a short one.
pub(super) fn visible(
    indexes: &[usize],
    selected: usize,
    area: Rect,
) -> impl Iterator<Item = (usize, usize)> + '_ {
    let height = usize::from(area.height.saturating_sub(3));
    let first = offset(selected, height);
    indexes.iter().copied().enumerate().skip(first).take(height)
}

/// The Webhooks pane.
pub fn webhooks(frame: &mut Frame<'_>, app: &App, theme: &Theme, list: Rect, side: Rect) {
    let rows_idx = app.webhook_rows();
    let selected = app.selected().min(rows_idx.len().saturating_sub(1));
    let rows: Vec<Row<'_>> = visible(&rows_idx, selected, list)
        .map(|(n, i)| {
            let w = &app.webhooks[i];
            let s = &app.stats[i];
            let last_style = match s.last.as_ref().map(|(status, _)| status) {
                Some(DeliveryStatus::Succeeded) => theme.ok,
                Some(DeliveryStatus::Failed) => theme.bad,
                Some(_) => theme.warn,
                None => theme.muted,
            };
            let row = Row::new(vec![
                Cell::from(w.label.clone()),
                Cell::from(w.event.as_str()),
                Cell::from(w.kind.clone()),
                Cell::from(w.target.clone()),
                Cell::from(Span::styled(format!("✓{}", s.delivered), theme.ok)),
                Cell::from(Span::styled(
                    format!("✗{}", s.failed),
                    if s.failed > 0 { theme.bad } else { theme.muted },
                )),
                Cell::from(Span::styled(
                    s.last_text().unwrap_or_else(|| "–".into()),
                    last_style,
                )),
            ]);
            if n == selected {
                row.style(theme.selection)
            } else {
                row
            }
        })
        .collect();
    let header = Row::new(vec![
        "name", "event", "kind", "target", "ok", "fail", "last",
    ])
    .style(theme.header);
    // The name column is as wide as the longest name (4 to 24): a fixed width cut
    // "drift-alerts" to "drift-" at 80 columns; the target takes what is left.
    let name_width = app
        .webhooks
        .iter()
        .map(|w| w.label.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 24);
    let widths = vec![
        Constraint::Length(u16::try_from(name_width).unwrap_or(24)),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Min(6),
        Constraint::Length(4),
        Constraint::Length(4),
        Constraint::Length(6),
    ];
    let t = Table::new(rows, widths).header(header);
    let title = filter_title(app, &format!("Webhooks ({})", app.webhooks.len()));
    frame.render_widget(t.block(block(&title, theme, true)), list);

    let mut lines: Vec<Line<'_>> = Vec::new();
    match rows_idx.get(selected).map(|&i| &app.webhooks[i]) {
        None => lines.push(Line::styled("No webhooks in the config.", theme.muted)),
        Some(w) => {
            let kv = |k: &str, v: String, s: Style| {
                Line::from(vec![
                    Span::styled(format!("{k:<16}"), theme.header),
                    Span::styled(v, s),
                ])
            };
            lines.push(kv("webhook", w.label.clone(), theme.text));
            lines.push(kv("event", w.event.as_str().into(), theme.text));
            lines.push(kv("target", w.describe.clone(), theme.text));
            if w.slack_token {
                let (text, style) = match &app.slack {
                    crate::tui::app::SlackAuth::Ok(team) => {
                        (format!("token ok ({team})"), theme.ok)
                    }
                    crate::tui::app::SlackAuth::Failed(e) => {
                        (format!("auth.test failed: {e}"), theme.bad)
                    }
                    crate::tui::app::SlackAuth::Checking => {
                        ("checking the token…".to_string(), theme.muted)
                    }
                    crate::tui::app::SlackAuth::NotNeeded => {
                        ("no token needed".to_string(), theme.muted)
                    }
                };
                lines.push(kv("slack auth", text, style));
            }
            let pattern = |p: &str| {
                if p.is_empty() {
                    "(any)".to_string()
                } else {
                    p.to_string()
                }
            };
            if w.event.is_run() {
                for subject in crate::event::Subject::ALL {
                    lines.push(kv(subject.key(), pattern(w.pattern(subject)), theme.info));
                    if subject == crate::event::Subject::BaseBranch {
                        lines.push(Line::styled(
                            "  (tested against the PR's base branch)",
                            theme.muted,
                        ));
                    }
                }
            } else {
                lines.push(Line::styled(
                    match w.drift_errors.as_str() {
                        "skip" => "drift reports without errored projects (drift-errors: skip)",
                        "only" => "only drift reports with errored projects (drift-errors: only)",
                        _ => "every drift report (no filters)",
                    },
                    theme.muted,
                ));
            }
            lines.push(kv(
                "timeout",
                humantime::format_duration(std::time::Duration::from_millis(w.timeout_ms))
                    .to_string(),
                theme.text,
            ));
            lines.push(kv("attempts", w.max_attempts.to_string(), theme.text));
            if !w.headers.is_empty() {
                lines.push(kv(
                    "headers",
                    w.headers
                        .iter()
                        .map(|k| format!("{k}: <redacted>"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    theme.text,
                ));
            }
            if w.signed {
                lines.push(kv(
                    "signed",
                    "Standard Webhooks (secret set)".into(),
                    theme.text,
                ));
            }
            if let Some(last) = app.stats[w.index].last_text() {
                lines.push(kv("last", last, theme.text));
            }
            lines.push(Line::raw(""));
            lines.push(Line::from(vec![
                Span::styled("e", theme.keyhint),
                Span::styled(" edit filters  ", theme.muted),
                Span::styled("t", theme.keyhint),
                Span::styled(" test-fire", theme.muted),
            ]));
        }
    }
    frame.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .block(block("Webhook", theme, false)),
        side,
    );
}

/// The Events pane.
pub fn events(frame: &mut Frame<'_>, app: &App, theme: &Theme, list: Rect, side: Rect) {
    let rows_idx = app.event_rows();
    let selected = app.selected().min(rows_idx.len().saturating_sub(1));
    let rows: Vec<Row<'_>> = visible(&rows_idx, selected, list)
        .map(|(n, i)| {
            let e = &app.events[i];
            let (sym, style) = delivery_state(e, theme);
            let kind = e.event.kind().as_str();
            // The selected row takes the selection's colours whole, so its text keeps its
            // contrast; the words carry the verdict and the outcome.
            let (verdict_style, outcome_style) = if n == selected {
                (Style::new(), Style::new())
            } else {
                (verdict(e, theme), style)
            };
            let row = Row::new(vec![
                Cell::from(Span::styled(clock(e.received_at), theme.muted)),
                Cell::from(kind),
                Cell::from(Span::styled(
                    if app.marked.contains(&e.id) {
                        format!("● {}", e.summary())
                    } else {
                        e.summary()
                    },
                    verdict_style,
                )),
                Cell::from(Span::styled(sym, outcome_style)),
            ]);
            if n == selected {
                row.style(theme.selection)
            } else {
                row
            }
        })
        .collect();
    let header = Row::new(vec!["time", "event", "what happened", "delivery"]).style(theme.header);
    let widths = vec![
        Constraint::Length(8),
        Constraint::Length(5),
        Constraint::Min(10),
        Constraint::Length(9),
    ];
    let t = Table::new(rows, widths).header(header);
    let title = filter_title(
        app,
        &(format!(
            "Events ({}{}{}{})",
            rows_idx.len(),
            if app.older.is_some() { "+" } else { "" },
            if app.follow && app.search.is_none() {
                ", following"
            } else {
                ""
            },
            app.search
                .as_ref()
                .map(|q| format!(", journal search {q:?}"))
                .unwrap_or_default()
        ) + &if app.marked.is_empty() {
            String::new()
        } else {
            format!(" ● {} marked (r replays them)", app.marked.len())
        }),
    );
    frame.render_widget(t.block(block(&title, theme, true)), list);

    let mut lines: Vec<Line<'_>> = Vec::new();
    match rows_idx.get(selected).map(|&i| &app.events[i]) {
        None => {
            lines.push(Line::styled("No events yet.", theme.muted));
            lines.push(Line::styled(
                format!("POST them to http://{}/events,", app.listen),
                theme.muted,
            ));
            lines.push(Line::styled(
                "or press t to test-fire a fixture.",
                theme.muted,
            ));
        }
        Some(e) => {
            lines.push(Line::styled(e.summary(), theme.text));
            lines.push(Line::styled(
                format!("{} · from {}", e.id, e.source),
                theme.muted,
            ));
            lines.push(Line::raw(""));
            if e.deliveries.is_empty() {
                lines.push(Line::styled("No webhook took this event.", theme.muted));
            }
            for d in &e.deliveries {
                let (sym, style, word) = match d.status {
                    DeliveryStatus::Succeeded => ("✓", theme.ok, "delivered"),
                    DeliveryStatus::Failed => ("✗", theme.bad, "failed"),
                    DeliveryStatus::Retrying => ("⟳", theme.warn, "retrying"),
                    DeliveryStatus::Pending => ("…", theme.muted, "pending"),
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("{sym} {word:<9} "), style),
                    Span::styled(d.label.clone(), theme.text),
                    Span::styled(format!("  {}x", d.attempts), theme.muted),
                ]));
                if let Some(err) = &d.error {
                    lines.push(Line::styled(format!("    {err}"), style));
                }
                if let Some(h) = &d.hint {
                    lines.push(Line::styled(format!("    hint: {h}"), theme.info));
                }
            }
        }
    }
    frame.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .block(block("Deliveries", theme, false)),
        side,
    );
}
