//! An event in full: the payload as highlighted JSON, the message a webhook gets as its kind shows it,
//! and every attempt's request and response.

use ratatui::Frame;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Paragraph, Wrap};

use super::{block, popup, when_color};
use crate::notify::{Outcome, Preview, slack::render};
use crate::tui::app::{App, Detail, DetailTab};
use crate::tui::theme::Theme;

/// Pretty JSON with keys, strings, numbers and literals coloured.
pub fn json_lines<'a>(text: &str, theme: &Theme) -> Vec<Line<'a>> {
    let pretty = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string());
    pretty.lines().map(|l| json_line(l, theme)).collect()
}

fn json_line<'a>(line: &str, theme: &Theme) -> Line<'a> {
    let mut spans = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('"') {
            // A string: find its closing quote (skipping escapes).
            let mut end = None;
            let mut escaped = false;
            for (i, c) in after.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = Some(i);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            let end = end.map_or(after.len(), |e| e + 1);
            let s = &rest[..=end.min(rest.len() - 1)];
            let is_key = rest[s.len()..].trim_start().starts_with(':');
            spans.push(Span::styled(
                s.to_string(),
                if is_key {
                    theme.json_key
                } else {
                    theme.json_string
                },
            ));
            rest = &rest[s.len()..];
        } else {
            let end = rest.find('"').unwrap_or(rest.len());
            let chunk = &rest[..end];
            let trimmed = chunk.trim_matches(|c: char| {
                c == ',' || c == ':' || c.is_whitespace() || "[]{}".contains(c)
            });
            let style = if trimmed.parse::<f64>().is_ok() {
                theme.json_number
            } else if ["true", "false", "null"].contains(&trimmed) {
                theme.json_literal
            } else {
                theme.text
            };
            spans.push(Span::styled(chunk.to_string(), style));
            rest = &rest[end..];
        }
    }
    Line::from(spans)
}

/// The message the selected delivery's webhook gets for the event, as the herald shown
/// builds it (the same `prepare` that sends it) and its kind lays it out: a chat message as
/// the chat shows it, a plain receiver's body as JSON.
pub fn message_lines<'a>(
    preview: Option<&Result<Box<crate::api::wire::PreviewAnswer>, String>>,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let answer = match preview {
        None => return vec![Line::styled("loading…", theme.muted)],
        Some(Err(e)) => return vec![Line::styled(e.clone(), theme.bad)],
        Some(Ok(a)) => a,
    };
    let mut lines = vec![
        Line::styled(
            format!(
                "{} → {} {}",
                answer.webhook, answer.request.method, answer.request.url
            ),
            theme.muted,
        ),
        Line::raw(""),
    ];
    match &answer.preview {
        Preview::Json(body) => {
            let text = serde_json::to_string_pretty(body).unwrap_or_default();
            lines.extend(json_lines(&text, theme));
        }
        Preview::Message(r) => lines.extend(chat_lines(r, theme)),
    }
    lines
}

/// A chat message laid out as the chat shows an attachment: the bar in its colour (or
/// spelled out without colour), the headline bold.
fn chat_lines<'a>(r: &render::Rendered, theme: &Theme) -> Vec<Line<'a>> {
    let (bar_style, word) = match r.bar {
        render::Bar::Good => (theme.ok, "good"),
        render::Bar::Danger => (theme.bad, "danger"),
        _ => (theme.warn, "note"),
    };
    let mut lines = vec![Line::styled(r.summary.clone(), theme.text), Line::raw("")];
    for (i, l) in r.lines.iter().enumerate() {
        let bar = if !theme.color && i == 0 {
            format!("▌[{word}] ")
        } else {
            "▌ ".to_string()
        };
        let text_style = if i == 0 { theme.title } else { theme.text };
        lines.push(Line::from(vec![
            Span::styled(bar, when_color(theme, bar_style)),
            Span::styled(l.clone(), text_style),
        ]));
    }
    lines
}

/// How much of a run's `ResultMessage` the detail shows above the payload.
const RESULT_LINES: usize = 200;

/// Draws the detail dialog.
pub fn draw(frame: &mut Frame<'_>, app: &App, theme: &Theme, d: &Detail) {
    let area = popup(frame, 92, 88);
    let Some(item) = app.events.iter().find(|e| e.id == d.event_id) else {
        frame.render_widget(
            Paragraph::new("This event has left the window.").block(block("Event", theme, true)),
            area,
        );
        return;
    };
    let tabs = [
        (DetailTab::Payload, "Payload"),
        (DetailTab::Message, "Message"),
        (DetailTab::Attempts, "Attempts"),
    ];
    let mut head = vec![Span::raw(" ")];
    for (t, name) in tabs {
        head.push(Span::styled(
            format!(" {name} "),
            if t == d.tab {
                theme.selection
            } else {
                theme.muted
            },
        ));
        head.push(Span::raw(" "));
    }
    let mut lines: Vec<Line<'_>> = vec![
        Line::from(head),
        Line::styled(format!(" {}", item.summary()), theme.text),
        Line::raw(""),
    ];
    match d.tab {
        DetailTab::Payload => {
            // A run's ResultMessage reads as the terminal showed it, not as one escaped
            // JSON string: its end, colour codes removed, URL passwords redacted.
            if let Some(shown) = item
                .event
                .run()
                .and_then(|a| a.result_message.as_deref())
                .and_then(|m| crate::event::result::shown(m, RESULT_LINES, 20_000))
            {
                lines.push(Line::styled(
                    format!(" ResultMessage (its last {RESULT_LINES} lines at most)"),
                    theme.header,
                ));
                for l in shown.lines() {
                    lines.push(Line::styled(format!("   {l}"), theme.text));
                }
                lines.push(Line::raw(""));
            }
            match &d.body {
                None => lines.push(Line::styled("loading…", theme.muted)),
                Some(body) => lines.extend(json_lines(body, theme)),
            }
        }
        DetailTab::Message => lines.extend(message_lines(d.preview.as_ref(), theme)),
        DetailTab::Attempts => {
            if item.deliveries.is_empty() {
                lines.push(Line::styled("No deliveries.", theme.muted));
            }
            for (n, dl) in item.deliveries.iter().enumerate() {
                let marker = if n == d.delivery { "▶" } else { " " };
                lines.push(Line::from(vec![
                    Span::styled(format!("{marker} {} ", n + 1), theme.keyhint),
                    Span::styled(dl.label.clone(), theme.header),
                    Span::styled(format!("  {}  {}", dl.status.as_str(), dl.id), theme.muted),
                ]));
                let attempts = d
                    .attempts
                    .iter()
                    .find(|(id, _)| *id == dl.id)
                    .map(|(_, a)| a.as_slice())
                    .unwrap_or_default();
                for a in attempts {
                    let style = match a.outcome {
                        Outcome::Delivered => theme.ok,
                        Outcome::Retryable => theme.warn,
                        Outcome::Failed => theme.bad,
                    };
                    lines.push(Line::styled(
                        format!(
                            "    #{} {} {} {} ms",
                            a.number,
                            a.outcome,
                            a.status.map_or("-".to_string(), |s| s.to_string()),
                            a.latency_ms
                        ),
                        style,
                    ));
                    if let Ok(req) = serde_json::from_str::<serde_json::Value>(&a.request) {
                        lines.push(Line::styled(
                            format!(
                                "      → {} {}",
                                req["method"].as_str().unwrap_or("POST"),
                                req["url"].as_str().unwrap_or_default()
                            ),
                            theme.muted,
                        ));
                        for h in req["headers"].as_array().into_iter().flatten() {
                            lines.push(Line::styled(
                                format!(
                                    "        {}: {}",
                                    h[0].as_str().unwrap_or_default(),
                                    h[1].as_str().unwrap_or_default()
                                ),
                                theme.muted,
                            ));
                        }
                    }
                    if let Some(e) = &a.error {
                        lines.push(Line::styled(format!("      ✗ {e}"), theme.bad));
                    }
                    if let Some(h) = &a.hint {
                        lines.push(Line::styled(format!("      hint: {h}"), theme.info));
                    }
                    for l in a.response.lines().take(6) {
                        lines.push(Line::styled(format!("      ← {l}"), theme.text));
                    }
                }
                lines.push(Line::raw(""));
            }
        }
    }
    let mut scroll = d.scroll;
    let mut title = "Event".to_string();
    if let Some(f) = &d.find {
        let q = f.input.value().to_lowercase();
        let hits: Vec<usize> = if q.is_empty() {
            Vec::new()
        } else {
            lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.to_string().to_lowercase().contains(&q))
                .map(|(i, _)| i)
                .collect()
        };
        let shown = (!hits.is_empty()).then(|| f.hit % hits.len());
        if let Some(n) = shown {
            let at = hits[n];
            lines[at] = lines[at].clone().patch_style(theme.matched);
            scroll = u16::try_from(at.saturating_sub(2)).unwrap_or(u16::MAX);
        }
        title = format!(
            "Event /{}{} {}",
            f.input.value(),
            if f.editing { "▏" } else { "" },
            match shown {
                Some(n) => format!("({} of {}, n/N)", n + 1, hits.len()),
                None if q.is_empty() => String::new(),
                None => "(no match)".into(),
            }
        );
    }
    let text = Text::from(lines);
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(block(&title, theme, true)),
        area,
    );
}
