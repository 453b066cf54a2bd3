//! Dialogs: help, the filter editor, test-fire, and choosing a webhook to replay to.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Paragraph, Wrap};

use super::{block, popup};
use crate::event::Subject;
use crate::tui::app::App;
use crate::tui::editor::{Editor, LAST_K};
use crate::tui::fire::{FireDialog, Focus};
use crate::tui::keys::HELP;
use crate::tui::theme::Theme;

/// `?`: the keys, filtered by what is typed.
pub fn help(frame: &mut Frame<'_>, theme: &Theme, query: &str) {
    let area = popup(frame, 76, 80);
    let q = query.to_lowercase();
    let mut lines = vec![
        Line::from(vec![
            Span::styled(" filter: ", theme.muted),
            Span::styled(format!("{query}▏"), theme.text),
        ]),
        Line::raw(""),
    ];
    let matching: Vec<_> = HELP
        .iter()
        .filter(|(k, d)| {
            q.is_empty() || k.to_lowercase().contains(&q) || d.to_lowercase().contains(&q)
        })
        .collect();
    if matching.is_empty() {
        lines.push(Line::styled(" no key matches", theme.muted));
    }
    for (k, d) in matching {
        lines.push(Line::from(vec![
            Span::styled(format!(" {k:<18}"), theme.keyhint),
            Span::styled((*d).to_string(), theme.text),
        ]));
    }
    frame.render_widget(
        Paragraph::new(Text::from(lines)).block(block("Keys", theme, true)),
        area,
    );
}

/// The filter editor.
pub fn editor(frame: &mut Frame<'_>, app: &App, theme: &Theme, e: &Editor) {
    let area = popup(frame, 94, 90);
    let Some(w) = app.webhooks.get(e.webhook) else {
        return;
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!(" {} ", w.label), theme.header),
            Span::styled(
                format!("{} {} {}", w.event.as_str(), w.kind, w.target),
                theme.muted,
            ),
        ]),
        Line::raw(""),
    ];
    for field in Subject::ALL {
        let focused = field == e.field;
        let value = e.inputs[field.index()].value();
        let label = Span::styled(
            format!(" {:<16}", field.key()),
            if focused { theme.keyhint } else { theme.muted },
        );
        let shown = if focused {
            format!("{value}▏")
        } else {
            value.to_string()
        };
        lines.push(Line::from(vec![
            label,
            Span::styled(shown, if focused { theme.text } else { theme.muted }),
        ]));
        if focused && let Some(err) = &e.eval.error {
            lines.push(Line::styled(
                format!("{}^", " ".repeat(17 + err.offset)),
                theme.bad,
            ));
            lines.push(Line::styled(format!(" {}", err.message), theme.bad));
        }
    }
    lines.push(Line::styled(
        " unanchored, as Atlantis: \"prod\" also matches \"preprod\"; empty matches all; all must match",
        theme.muted,
    ));
    if w.event == crate::config::EventKind::Drift {
        lines.push(Line::styled(
            " drift webhooks ignore the filters (Atlantis does too)",
            theme.warn,
        ));
    }
    lines.push(Line::raw(""));
    let total = e.eval.rows.len();
    lines.push(Line::from(vec![
        Span::styled(
            format!(
                " would now match {} more, {} fewer",
                e.eval.gained, e.eval.lost
            ),
            theme.header,
        ),
        Span::styled(
            format!(
                " of the last {total} {} events (up to {LAST_K})",
                w.event.as_str()
            ),
            theme.muted,
        ),
    ]));
    // One column per tested value, the focused one first with its match highlighted, each
    // as wide as its longest value (within 10 to 22 columns).
    let width = e
        .eval
        .rows
        .iter()
        .flat_map(|r| r.values.iter().map(|v| v.chars().count()))
        .max()
        .unwrap_or(0)
        .clamp(10, 22);
    let others: Vec<Subject> = Subject::ALL.into_iter().filter(|s| *s != e.field).collect();
    let mut head = format!(" now before  {:<width$} ", e.field.noun());
    for s in &others {
        head.push_str(&format!("{:<width$} ", s.noun()));
    }
    head.push_str("event");
    lines.push(Line::styled(head, theme.muted));
    let cell = |v: &str| {
        let shown: String = if v.chars().count() > width {
            let cut: String = v.chars().take(width - 1).collect();
            format!("{cut}…")
        } else {
            v.to_string()
        };
        let pad = width.saturating_sub(shown.chars().count());
        format!("{shown}{} ", " ".repeat(pad))
    };
    for r in &e.eval.rows {
        let mark = |m: bool| {
            if m {
                Span::styled(" ✓  ", theme.ok)
            } else {
                Span::styled(" ✗  ", theme.bad)
            }
        };
        let mut spans = vec![
            mark(r.now),
            Span::raw("  "),
            mark(r.before),
            Span::raw("  "),
        ];
        match &r.span {
            Some(s) if !s.is_empty() && r.value.chars().count() <= width => {
                spans.push(Span::styled(r.value[..s.start].to_string(), theme.text));
                spans.push(Span::styled(r.value[s.clone()].to_string(), theme.matched));
                spans.push(Span::styled(r.value[s.end..].to_string(), theme.text));
                let pad = width.saturating_sub(r.value.chars().count());
                spans.push(Span::raw(" ".repeat(pad + 1)));
            }
            _ => spans.push(Span::styled(cell(&r.value), theme.text)),
        }
        for s in &others {
            spans.push(Span::styled(cell(&r.values[s.index()]), theme.muted));
        }
        spans.push(Span::styled(r.summary.clone(), theme.muted));
        lines.push(Line::from(spans));
    }
    if total == 0 {
        lines.push(Line::styled(
            format!(
                " no {} events yet: test-fire one (t) or wait for Atlantis",
                w.event.as_str()
            ),
            theme.muted,
        ));
    }
    frame.render_widget(
        Paragraph::new(Text::from(lines)).block(block("Filter editor", theme, true)),
        area,
    );
}

/// Test-fire.
pub fn fire(frame: &mut Frame<'_>, app: &App, theme: &Theme, f: &FireDialog) {
    let area = popup(frame, 94, 90);
    let outer = block("Test-fire", theme, true);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(inner);
    let [sources, targets] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(left);

    let src: Vec<Line<'_>> = f
        .sources
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let style = if i == f.source {
                theme.selection
            } else {
                theme.text
            };
            Line::styled(format!(" {name}"), style)
        })
        .collect();
    frame.render_widget(
        Paragraph::new(Text::from(src)).block(block("Payload", theme, f.focus == Focus::Source)),
        sources,
    );

    let tg: Vec<Line<'_>> = app
        .webhooks
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let check = if f.targets.get(i).copied().unwrap_or(false) {
                "[x]"
            } else {
                "[ ]"
            };
            let style = if f.focus == Focus::Targets && i == f.cursor {
                theme.selection
            } else {
                theme.text
            };
            Line::styled(
                format!(" {check} {} {} {}", w.label, w.event.as_str(), w.target),
                style,
            )
        })
        .collect();
    frame.render_widget(
        Paragraph::new(Text::from(tg)).block(block("Webhooks", theme, f.focus == Focus::Targets)),
        targets,
    );

    let mut lines: Vec<Line<'_>> = Vec::new();
    match (&f.results, f.busy) {
        (_, true) => lines.push(Line::styled("firing…", theme.warn)),
        (Some(results), false) => {
            for r in results {
                if r.ok {
                    lines.push(Line::styled(
                        format!(
                            "✓ {}: delivered ({})",
                            r.label,
                            r.status.map_or("-".into(), |s| s.to_string())
                        ),
                        theme.ok,
                    ));
                } else {
                    lines.push(Line::styled(
                        format!(
                            "✗ {}: {}",
                            r.label,
                            r.error.clone().unwrap_or_else(|| "failed".into())
                        ),
                        theme.bad,
                    ));
                    if let Some(h) = &r.hint {
                        lines.push(Line::styled(format!("  hint: {h}"), theme.info));
                    }
                }
            }
        }
        (None, false) => {
            for l in &f.preview {
                lines.push(Line::styled(l.clone(), theme.text));
            }
        }
    }
    let title = if f.results.is_some() {
        "Answer"
    } else {
        "Exact message"
    };
    frame.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .block(block(title, theme, false)),
        right,
    );
}

/// Choosing the webhook to replay to.
pub fn replay_to(
    frame: &mut Frame<'_>,
    app: &App,
    theme: &Theme,
    selected: usize,
    kind: crate::config::EventKind,
    warned: bool,
) {
    let area = popup(frame, 60, 50);
    let mut lines: Vec<Line<'_>> = app
        .webhooks
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let style = if i == selected {
                theme.selection
            } else {
                theme.text
            };
            Line::styled(
                format!(" {} {} {} {}", w.label, w.event.as_str(), w.kind, w.target),
                style,
            )
        })
        .collect();
    if let Some(w) = app.webhooks.get(selected).filter(|w| w.event != kind) {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(
                " ⚠ {} takes {} events; this is a {} event.",
                w.label,
                w.event.as_str(),
                kind.as_str()
            ),
            theme.warn,
        ));
        lines.push(Line::styled(
            if warned {
                " enter again sends it anyway, esc cancels"
            } else {
                " enter asks once more before sending"
            },
            theme.warn,
        ));
    }
    frame.render_widget(
        Paragraph::new(Text::from(lines)).block(block("Replay to", theme, true)),
        area,
    );
}

/// A question before an outward action, its target named.
pub fn confirm(frame: &mut Frame<'_>, theme: &Theme, text: &str) {
    let area = super::popup(frame, 60, 24);
    let lines = vec![
        Line::raw(""),
        Line::styled(format!(" {text}"), theme.title),
        Line::raw(""),
        Line::from(vec![
            Span::styled(" y", theme.keyhint),
            Span::styled(" yes, do it    ", theme.text),
            Span::styled("n", theme.keyhint),
            Span::styled(" cancel", theme.text),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(ratatui::widgets::Wrap { trim: false })
            .block(block("Confirm", theme, true)),
        area,
    );
}

/// The `:` command line.
pub fn command(frame: &mut Frame<'_>, theme: &Theme, typed: &str) {
    let area = frame.area();
    let r = ratatui::layout::Rect::new(area.x, area.bottom().saturating_sub(3), area.width, 3);
    frame.render_widget(ratatui::widgets::Clear, r);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(":", theme.keyhint),
            Span::styled(format!("{typed}▏"), theme.text),
        ]))
        .block(block("Command", theme, true)),
        r,
    );
}

/// `y`: what to copy.
pub fn copy(frame: &mut Frame<'_>, theme: &Theme) {
    let area = super::popup(frame, 50, 30);
    let line = |k: &'static str, what: &'static str| {
        Line::from(vec![
            Span::styled(format!(" {k} "), theme.keyhint),
            Span::styled(what, theme.text),
        ])
    };
    frame.render_widget(
        Paragraph::new(Text::from(vec![
            Line::raw(""),
            line("i", "the event's id"),
            line("p", "its payload (as received, secrets removed)"),
            line("c", "a curl command that posts it again"),
        ]))
        .block(block("Copy", theme, true)),
        area,
    );
}
