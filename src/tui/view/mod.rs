//! Drawing: a pure function of the state and the theme. No I/O happens here.

mod detail;
mod dialogs;
mod drift;
mod lists;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::app::{App, Overlay, Pane, SlackAuth};
use super::theme::Theme;

/// The smallest terminal the console lays out for.
pub const MIN_SIZE: (u16, u16) = (80, 24);

/// Where things go on screen.
#[derive(Debug, Clone, Copy)]
pub struct Areas {
    /// The pane tabs (one line).
    pub tabs: Rect,
    /// The list of the focused pane.
    pub list: Rect,
    /// The side panel.
    pub side: Rect,
    /// The status bar.
    pub status: Rect,
    /// The key hints.
    pub footer: Rect,
}

/// The layout for a terminal size (shared with click handling).
pub fn layout(size: (u16, u16)) -> Areas {
    let area = Rect::new(0, 0, size.0, size.1);
    let [tabs, main, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    // The side panel gives way on narrow terminals (3/8 below 100 columns), so the list
    // keeps its names whole at 80.
    let side_width = if main.width < 100 {
        (main.width * 3 / 8).max(28)
    } else {
        main.width * 42 / 100
    };
    let [list, side] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(side_width)]).areas(main);
    Areas {
        tabs,
        list,
        side,
        status,
        footer,
    }
}

/// The first visible row of a list `height` rows high with `selected` selected.
pub fn offset(selected: usize, height: usize) -> usize {
    (selected + 1).saturating_sub(height.max(1))
}

/// Draws the whole console.
pub fn draw(frame: &mut Frame<'_>, app: &App, theme: &Theme) {
    let area = frame.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let msg = Paragraph::new(vec![
            Line::from(Span::styled("herald", theme.title)),
            Line::from(format!(
                "needs a terminal of at least {}x{}; this one is {}x{}.",
                MIN_SIZE.0, MIN_SIZE.1, area.width, area.height
            )),
            Line::from(Span::styled(
                "Make it larger, or press q to quit.",
                theme.muted,
            )),
        ])
        .wrap(ratatui::widgets::Wrap { trim: true });
        frame.render_widget(msg, area);
        return;
    }
    let a = layout((area.width, area.height));
    draw_tabs(frame, app, theme, a.tabs);
    match app.pane {
        Pane::Webhooks => lists::webhooks(frame, app, theme, a.list, a.side),
        Pane::Events => lists::events(frame, app, theme, a.list, a.side),
        Pane::Drift => drift::drift(frame, app, theme, a.list, a.side),
        Pane::Schedules => drift::schedules(frame, app, theme, a.list, a.side),
    }
    draw_status(frame, app, theme, a.status);
    draw_footer(frame, app, theme, a.footer);
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help(input) => dialogs::help(frame, theme, input.value()),
        Overlay::Detail(d) => detail::draw(frame, app, theme, d),
        Overlay::Editor(e) => dialogs::editor(frame, app, theme, e),
        Overlay::Fire(f) => dialogs::fire(frame, app, theme, f),
        Overlay::ReplayTo {
            selected,
            kind,
            warned,
            ..
        } => dialogs::replay_to(frame, app, theme, *selected, *kind, *warned),
        Overlay::Command(input) => dialogs::command(frame, theme, input.value()),
        Overlay::Copy { .. } => dialogs::copy(frame, theme),
        Overlay::Confirm { text, then, .. } => {
            // The dialog it came from stays visible beneath the question.
            match then.as_ref() {
                Overlay::Detail(d) => detail::draw(frame, app, theme, d),
                Overlay::Fire(f) => dialogs::fire(frame, app, theme, f),
                Overlay::Editor(e) => dialogs::editor(frame, app, theme, e),
                _ => {}
            }
            dialogs::confirm(frame, theme, text);
        }
    }
}

fn draw_tabs(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let mut spans = Vec::new();
    for (i, p) in Pane::ALL.iter().enumerate() {
        let style = if *p == app.pane {
            theme.selection
        } else {
            theme.muted
        };
        spans.push(Span::styled(format!(" {} {} ", i + 1, p.title()), style));
        spans.push(Span::raw("  "));
    }
    let title = format!("herald {}", crate::VERSION);
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let pad = usize::from(area.width).saturating_sub(used + title.len() + 1);
    spans.push(Span::raw(" ".repeat(pad)));
    spans.push(Span::styled(title, theme.title));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let c = &app.counts;
    let sep = Span::styled(" │ ", theme.statusbar);
    let link = match &app.link {
        crate::tui::app::Link::InProcess => {
            Span::styled(format!(" listen {}", app.listen), theme.statusbar)
        }
        crate::tui::app::Link::Attached(at) => Span::styled(
            format!(" ⇄ attached {at}"),
            theme.statusbar.patch(theme.info),
        ),
        crate::tui::app::Link::Reconnecting { at, .. } => Span::styled(
            format!(" ⚠ reconnecting to {at}…"),
            theme.statusbar.patch(theme.warn),
        ),
    };
    let mut spans = vec![
        link,
        sep.clone(),
        Span::styled(
            format!("✓ {} delivered", c.succeeded),
            theme.statusbar.patch(theme.ok),
        ),
        sep.clone(),
        Span::styled(
            format!("⟳ {} retrying", c.retrying + c.pending),
            theme.statusbar.patch(theme.warn),
        ),
        sep.clone(),
        Span::styled(
            format!("✗ {} failed", c.failed),
            theme.statusbar.patch(theme.bad),
        ),
        sep.clone(),
        if app.paused {
            Span::styled("⏸ PAUSED", theme.statusbar.patch(theme.warn))
        } else {
            Span::styled("▶ running", theme.statusbar)
        },
        sep.clone(),
        Span::styled(
            if app.follow {
                "follow on"
            } else {
                "follow off"
            },
            theme.statusbar,
        ),
    ];
    let slack = match &app.slack {
        SlackAuth::NotNeeded => None,
        SlackAuth::Checking => Some(("slack: checking".to_string(), theme.statusbar)),
        SlackAuth::Ok(team) => Some((
            format!("slack: ok ({team})"),
            theme.statusbar.patch(theme.ok),
        )),
        SlackAuth::Failed(e) => Some((format!("slack: {e}"), theme.statusbar.patch(theme.bad))),
    };
    if let Some((text, style)) = slack {
        spans.push(sep);
        spans.push(Span::styled(text, style));
    }
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    spans.push(Span::styled(
        " ".repeat(usize::from(area.width).saturating_sub(used)),
        theme.statusbar,
    ));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_footer(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    if let Some(t) = &app.toast {
        let style = if t.error { theme.bad } else { theme.info };
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(format!(" {}", t.text), style))),
            area,
        );
        return;
    }
    let hints: &[(&str, &str)] = match &app.overlay {
        Overlay::Help(_) => &[("type", "filter"), ("esc", "close")],
        Overlay::Confirm { .. } => &[("y/enter", "yes, do it"), ("n/esc", "cancel")],
        Overlay::Copy { .. } => &[
            ("i", "id"),
            ("p", "payload"),
            ("c", "curl"),
            ("esc", "cancel"),
        ],
        Overlay::Command(_) => &[
            ("enter", "run"),
            ("esc", "cancel"),
            (":failed :webhook N :search Q", "journal"),
            (":replay failed|marked :reload", "act"),
        ],
        Overlay::Detail(_) => &[
            ("tab", "payload/message/attempts"),
            ("j/k", "scroll"),
            ("1-9", "delivery"),
            ("r", "replay"),
            ("R", "replay to"),
            ("esc", "back"),
        ],
        Overlay::Editor(_) => &[
            ("type", "pattern"),
            ("tab", "field"),
            ("enter", "apply"),
            ("ctrl-s", "write to file"),
            ("esc", "close"),
        ],
        Overlay::Fire(_) => &[
            ("j/k", "move"),
            ("tab", "payloads/webhooks"),
            ("space", "choose"),
            ("e", "$EDITOR"),
            ("enter", "fire"),
            ("esc", "close"),
        ],
        Overlay::ReplayTo { .. } => &[("j/k", "webhook"), ("enter", "replay"), ("esc", "cancel")],
        Overlay::None => match app.pane {
            Pane::Schedules => &[
                ("j/k", "move"),
                ("r", "run now"),
                ("/", "filter"),
                ("1-4", "pane"),
                ("?", "help"),
                ("q", "quit"),
            ],
            Pane::Webhooks => &[
                ("j/k", "move"),
                ("e", "edit filters"),
                ("t", "test-fire"),
                ("/", "filter"),
                ("1-4", "pane"),
                ("?", "help"),
                ("q", "quit"),
            ],
            _ => &[
                ("j/k", "move"),
                ("enter", "open"),
                ("r", "replay"),
                ("t", "test-fire"),
                ("/", "filter"),
                ("f", "follow"),
                ("p", "pause"),
                ("?", "help"),
                ("q", "quit"),
            ],
        },
    };
    let mut spans = vec![Span::raw(" ")];
    for (k, v) in hints {
        spans.push(Span::styled(*k, theme.keyhint));
        spans.push(Span::styled(format!(" {v}  "), theme.muted));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A centred rectangle `w`% wide and `h`% high, cleared for a dialog.
fn popup(frame: &mut Frame<'_>, w: u16, h: u16) -> Rect {
    let area = frame.area();
    let width = area.width * w / 100;
    let height = area.height * h / 100;
    let r = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    frame.render_widget(Clear, r);
    r
}

/// A bordered block with a title.
fn block<'a>(title: &'a str, theme: &Theme, focused: bool) -> ratatui::widgets::Block<'a> {
    ratatui::widgets::Block::bordered()
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        })
        .title(Span::styled(format!(" {title} "), theme.title))
}

/// A style that is the theme's `style` only when colour is on.
fn when_color(theme: &Theme, style: Style) -> Style {
    if theme.color { style } else { Style::new() }
}
