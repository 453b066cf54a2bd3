//! Keys and mouse to [`Action`]s, following k9s, lazygit and gitui: arrows and `j/k`,
//! `g/G`, `tab` and `1`-`3`, `/` filter (`!` inverts), `?` help, `enter`, `esc`, `q`.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind,
};
use tui_input::backend::crossterm::to_input_request;

use super::app::{Action, App, Overlay, Pane};

/// The key help: (keys, what they do). `?` shows it, filtered by what is typed.
pub const HELP: &[(&str, &str)] = &[
    ("↑ ↓  j k", "move"),
    ("g G  Home End", "first, last"),
    ("PgUp PgDn", "a page up, down"),
    ("tab  shift-tab", "next, previous pane (or field, tab)"),
    ("1 2 3 4", "Webhooks, Events, Drift, Schedules"),
    (
        "enter",
        "open the event (payload, message, attempts) or edit the webhook's filters",
    ),
    ("esc", "back, close, clear the filter"),
    ("/", "filter the list; start with ! to invert"),
    ("?", "this help; type to filter it"),
    ("f", "follow new events on/off"),
    (
        "p",
        "pause or resume deliveries (events are still accepted)",
    ),
    (
        "r",
        "replay the event (or, in the detail, the chosen delivery); in Schedules: ask Atlantis for drift now",
    ),
    ("R", "replay to a webhook of your choice"),
    (
        "e",
        "edit the selected webhook's workspace-, branch-, project- and directory-regex",
    ),
    (
        "t",
        "test-fire: a fixture, a past or an edited payload, at chosen webhooks",
    ),
    (
        "space",
        "mark the event for a bulk replay (r replays the marked); in test-fire: choose a webhook",
    ),
    (
        "y",
        "copy the event: i its id, p its payload, c a curl command that posts it again",
    ),
    (
        ":",
        "command: :failed, :webhook NAME, :drift, :search Q, :replay failed, :replay marked, :unmark, :reload, :pause, :resume, :quit",
    ),
    ("e (test-fire)", "edit the payload in $EDITOR"),
    ("enter (editor)", "apply the filter to the running engine"),
    (
        "ctrl-s (editor)",
        "write the filter to the config file (backup kept)",
    ),
    ("1-9 (detail)", "choose a delivery to replay"),
    (
        "/ (detail)",
        "find text in the detail; n, N: next, previous match",
    ),
    ("mouse", "wheel scrolls, click selects a row or a pane"),
    ("q  ctrl-c", "quit"),
];

/// Whether keys go to a text field.
fn typing(app: &App) -> bool {
    match &app.overlay {
        Overlay::Help(_) | Overlay::Editor(_) | Overlay::Command(_) => true,
        Overlay::Detail(d) => d.find.as_ref().is_some_and(|f| f.editing),
        Overlay::None => {
            let i = Pane::ALL.iter().position(|p| *p == app.pane).unwrap_or(0);
            app.filters[i].as_ref().is_some_and(|f| f.editing)
        }
        _ => false,
    }
}

/// The action for a terminal event, if any.
pub fn map(app: &App, event: &Event) -> Option<Action> {
    match event {
        Event::Resize(w, h) => Some(Action::Resize(*w, *h)),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollUp => Some(Action::ScrollUp),
            MouseEventKind::ScrollDown => Some(Action::ScrollDown),
            MouseEventKind::Down(MouseButton::Left) => Some(Action::Click(m.column, m.row)),
            _ => None,
        },
        Event::Key(key) if key.kind != KeyEventKind::Release => map_key(app, key, event),
        _ => None,
    }
}

fn map_key(app: &App, key: &KeyEvent, event: &Event) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    // Keys every mode shares.
    match key.code {
        KeyCode::Esc => return Some(Action::Back),
        KeyCode::Enter => return Some(Action::Enter),
        KeyCode::Tab => return Some(Action::Next),
        KeyCode::BackTab => return Some(Action::Prev),
        KeyCode::Up => return Some(Action::Up),
        KeyCode::Down => return Some(Action::Down),
        KeyCode::PageUp => return Some(Action::PageUp),
        KeyCode::PageDown => return Some(Action::PageDown),
        KeyCode::Char('s') if ctrl => return Some(Action::Write),
        _ => {}
    }
    if typing(app) {
        return to_input_request(event).map(Action::Input);
    }
    if let Overlay::Copy { .. } = app.overlay {
        return match key.code {
            KeyCode::Char(c @ ('i' | 'p' | 'c')) => {
                Some(Action::Input(tui_input::InputRequest::InsertChar(c)))
            }
            _ => None,
        };
    }
    if let Overlay::Confirm { .. } = app.overlay {
        return match key.code {
            KeyCode::Char('y' | 'Y') => Some(Action::Confirm),
            KeyCode::Char('n' | 'N') => Some(Action::Back),
            _ => None,
        };
    }
    if let Overlay::Detail(d) = &app.overlay {
        match key.code {
            KeyCode::Char(c @ '1'..='9') => {
                return Some(Action::Input(tui_input::InputRequest::InsertChar(c)));
            }
            KeyCode::Char('n') if d.find.is_some() => return Some(Action::FindNext),
            KeyCode::Char('N') if d.find.is_some() => return Some(Action::FindPrev),
            _ => {}
        }
    }
    Some(match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('j') => Action::Down,
        KeyCode::Char('k') => Action::Up,
        KeyCode::Char('g') | KeyCode::Home => Action::Top,
        KeyCode::Char('G') | KeyCode::End => Action::Bottom,
        KeyCode::Char('1') => Action::Pane(Pane::Webhooks),
        KeyCode::Char('2') => Action::Pane(Pane::Events),
        KeyCode::Char('3') => Action::Pane(Pane::Drift),
        KeyCode::Char('4') => Action::Pane(Pane::Schedules),
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('/') => Action::Filter,
        KeyCode::Char('f') => Action::ToggleFollow,
        KeyCode::Char('p') => Action::TogglePause,
        KeyCode::Char('r') => Action::Replay,
        KeyCode::Char('R') => Action::ReplayTo,
        KeyCode::Char('e') if matches!(app.overlay, Overlay::Fire(_)) => Action::OpenEditor,
        KeyCode::Char('e') => Action::EditFilter,
        KeyCode::Char('t') => Action::Fire,
        KeyCode::Char(' ') if matches!(app.overlay, Overlay::None) && app.pane == Pane::Events => {
            Action::Mark
        }
        KeyCode::Char(' ') => Action::Toggle,
        KeyCode::Char(':') => Action::Command,
        KeyCode::Char('y') => Action::Yank,
        _ => return None,
    })
}
