//! The console rendered into ratatui's `TestBackend` and compared with insta snapshots, plus
//! the state's `update` driven by actions: no terminal needed.

use std::sync::Arc;

use herald::event::Event;
use herald::event::Subject;
use herald::intake::{self, Inbound};
use herald::store::{AttemptRow, DeliveryStatus, StatusCounts};
use herald::tui::app::{
    Action, App, DeliveryItem, Effect, EventItem, Message, Overlay, Pane, SlackAuth,
};
use herald::tui::editor::typed;
use herald::tui::theme::Theme;
use herald::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use crate::support::{load_ok, repo_file};

const CONFIG: &str = "\
slack-token: xoxb-test
webhooks:
  - name: prod-applies
    event: apply
    kind: slack
    channel: C0PRODDEPLOY
    workspace-regex: ^production$
  - name: audit
    event: apply
    kind: http
    url: https://audit.acme.example/atlantis?token=secret-query-value
  - name: drift-alerts
    event: drift
    kind: slack
    channel: C0DRIFT
";

fn payload(name: &str) -> Event {
    let body = crate::support::payload(name);
    match intake::read(&body, None).expect("parses") {
        Inbound::Event(r) => r.event,
        other => panic!("{name}: {other:?}"),
    }
}

fn item(n: i64, name: &str, deliveries: Vec<(&str, DeliveryStatus, Option<&str>)>) -> EventItem {
    EventItem {
        id: format!("event-{n}"),
        received_at: 1_763_870_400_000 + n * 61_000,
        source: herald::intake::Source::Apply,
        event: Arc::new(payload(name)),
        deliveries: deliveries
            .into_iter()
            .enumerate()
            .map(|(i, (label, status, error))| DeliveryItem {
                id: format!("delivery-{n}-{i}"),
                label: label.into(),
                status,
                attempts: if status == DeliveryStatus::Succeeded {
                    1
                } else {
                    3
                },
                error: error.map(str::to_string),
                hint: (error == Some("not_in_channel"))
                    .then(|| "the bot is not in the channel: invite it".to_string()),
            })
            .collect(),
    }
}

/// A console with a few events of every kind, newest first.
fn app() -> App {
    let config = Arc::new(load_ok(CONFIG, None, None));
    let fixtures = vec![
        (
            "apply-success.json".to_string(),
            std::fs::read_to_string(repo_file("examples/payloads/apply-success.json")).expect("f"),
        ),
        (
            "drift-detected.json".to_string(),
            std::fs::read_to_string(repo_file("examples/payloads/drift-detected.json")).expect("f"),
        ),
    ];
    let webhooks = herald::api::wire::webhooks(&config, &std::collections::HashMap::new());
    let mut app = App::new(webhooks, "127.0.0.1:4141".into(), fixtures);
    let events = vec![
        item(
            5,
            "env0-drift-detected.json",
            vec![("drift-alerts", DeliveryStatus::Succeeded, None)],
        ),
        item(
            4,
            "drift-clean.json",
            vec![("drift-alerts", DeliveryStatus::Succeeded, None)],
        ),
        item(
            3,
            "apply-failure.json",
            vec![(
                "audit",
                DeliveryStatus::Retrying,
                Some("sending webhook to \"https://audit.acme.example\": returned status 503"),
            )],
        ),
        item(
            2,
            "drift-detected.json",
            vec![(
                "drift-alerts",
                DeliveryStatus::Failed,
                Some("not_in_channel"),
            )],
        ),
        item(
            1,
            "apply-success.json",
            vec![
                ("prod-applies", DeliveryStatus::Succeeded, None),
                ("audit", DeliveryStatus::Succeeded, None),
            ],
        ),
    ];
    app.apply(Message::Loaded(events));
    app.apply(Message::Counts(StatusCounts {
        events: 5,
        pending: 0,
        retrying: 1,
        succeeded: 4,
        failed: 1,
        leased: 0,
    }));
    app.apply(Message::SlackAuth(SlackAuth::Ok("Acme".into())));
    app.update(Action::Resize(100, 30));
    app
}

fn render(app: &App, theme: &Theme, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| view::draw(f, app, theme)).expect("draw");
    t
}

fn screen(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The foreground colour of the first cell of the first place `text` appears on screen.
fn fg_of(t: &Terminal<TestBackend>, text: &str) -> Option<Color> {
    let buf = t.backend().buffer();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        if let Some(byte) = line.find(text) {
            let col = u16::try_from(line[..byte].chars().count()).unwrap_or(0);
            return buf[(col, y)].fg.into();
        }
    }
    None
}

fn theme() -> Theme {
    Theme::load("default").expect("theme")
}

#[test]
fn events_pane() {
    let app = app();
    insta::assert_snapshot!(render(&app, &theme(), 100, 30).backend());
}

#[test]
fn webhooks_pane() {
    let mut app = app();
    app.update(Action::Pane(Pane::Webhooks));
    let t = render(&app, &theme(), 100, 30);
    insta::assert_snapshot!(t.backend());
    assert!(
        !screen(&t).contains("secret-query-value"),
        "query secrets are masked"
    );
}

#[test]
fn drift_pane_is_red_when_drifted_and_green_when_clean() {
    let mut app = app();
    app.update(Action::Pane(Pane::Drift));
    let th = theme();
    let t = render(&app, &th, 100, 30);
    insta::assert_snapshot!(t.backend());
    assert_eq!(
        fg_of(&t, "✗ DRIFT"),
        th.drifted.fg,
        "drift in the theme's red"
    );
    assert_eq!(
        fg_of(&t, "✓ clean"),
        th.clean.fg,
        "clean in the theme's green"
    );
    assert_ne!(th.drifted.fg, th.clean.fg);
}

/// What a serve with one drift schedule and `drift-stale-after: 26h` tells the console:
/// acme/infrastructure checked 2 h ago, next in 4 h; acme/payments-infra silent for 31 h.
fn watched(app: &mut App) {
    let now = 1_763_870_400_000 + 10 * 61_000;
    let hour = 3_600_000;
    app.apply(Message::Drift {
        watch: herald::api::wire::DriftWatch {
            stale_after_ms: Some(26 * 3_600_000),
            schedules: vec![herald::api::wire::Schedule {
                key: "drift-schedule:acme/infrastructure@main|https://atlantis.acme.example".into(),
                subject: "acme/infrastructure@main".into(),
                atlantis: "https://atlantis.acme.example".into(),
                when: "every 6h".into(),
                last_run_at: Some(now - 2 * hour),
                last_finished_at: Some(now - 2 * hour + 40_000),
                last_ok: Some(true),
                last_said: Some(
                    "Drift detected in acme/infrastructure: 2 of 3 projects drifted".into(),
                ),
                running: false,
                next_run_at: Some(now + 4 * hour),
            }],
            seen: vec![
                herald::api::wire::Seen {
                    subject: "acme/infrastructure@main".into(),
                    last_at: now - 2 * hour,
                    stale: false,
                },
                herald::api::wire::Seen {
                    subject: "acme/payments-infra@main".into(),
                    last_at: now - 31 * hour,
                    stale: true,
                },
            ],
        },
        now,
    });
}

#[test]
fn schedules_pane_shows_last_and_next_runs_and_r_runs_one_now() {
    let mut app = app();
    watched(&mut app);
    app.update(Action::Pane(Pane::Schedules));
    let th = theme();
    let t = render(&app, &th, 110, 24);
    insta::assert_snapshot!(t.backend());
    let text = screen(&t);
    for want in [
        "acme/infrastructure@main",
        "✓ 1 h ago",
        "in 4 h",
        "every 6h",
        "31 h ago",
    ] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
    // The silent repository is in the warning colour; the other is not.
    assert_eq!(fg_of(&t, "acme/payments-infra@main"), th.warn.fg);
    // r asks first, naming Atlantis and the repository, then runs it.
    let Some(Effect::RunSchedule(key)) = confirmed(&mut app, Action::Replay) else {
        panic!("a run is asked for")
    };
    assert!(key.starts_with("drift-schedule:acme/infrastructure@main"));
}

#[test]
fn drift_pane_says_how_long_ago_a_repository_last_reported() {
    let mut app = app();
    watched(&mut app);
    app.update(Action::Pane(Pane::Drift));
    // The newest report is payments-infra's (env0), silent for 31 h: amber.
    let th = theme();
    let t = render(&app, &th, 100, 30);
    let text = screen(&t);
    assert!(text.contains("last report 31 h ago"), "{text}");
    assert_eq!(fg_of(&t, "last report 31 h ago"), th.warn.fg);
    // A notice and an errored report are rows of their own kind.
    let mut errored = item(
        11,
        "drift-errored.json",
        vec![("drift-alerts", DeliveryStatus::Succeeded, None)],
    );
    errored.source = herald::intake::Source::Drift;
    let notice = herald::intake::notice(&herald::event::DriftNotice {
        event: herald::event::NoticeKind::DriftFailed,
        repository: "acme/infra".into(),
        git_ref: "main".into(),
        error: "invalid or missing API token".into(),
        status: Some(401),
        atlantis: "https://atlantis.acme.example".into(),
        last_report_at: None,
        stale_after: None,
        silent_hours: None,
    })
    .expect("a notice");
    let mut failed = item(12, "drift-clean.json", vec![]);
    failed.event = Arc::new(notice.event);
    app.apply(Message::Recorded(errored));
    app.apply(Message::Recorded(failed));
    let t = render(&app, &th, 100, 30);
    let text = screen(&t);
    assert!(
        text.contains("✗ failed") && text.contains("acme/infra "),
        "{text}"
    );
    assert!(
        text.contains("Drift detection failed for")
            && text.contains("acme/infra@main: 401 invalid or missing"),
        "{text}"
    );
    app.update(Action::Down);
    let t = render(&app, &th, 100, 30);
    let text = screen(&t);
    // drift-errored has drift too, so it is red, with the errored project marked.
    assert!(text.contains("1 of 3 projects errored"), "{text}");
    assert!(text.contains("⚠ databases-production"), "{text}");
}

#[test]
fn drift_reads_without_colour() {
    let mut app = app();
    app.update(Action::Pane(Pane::Drift));
    let t = render(&app, &Theme::mono(), 100, 30);
    let s = screen(&t);
    assert!(s.contains("✗ DRIFT") && s.contains("✓ clean"), "{s}");
    let buf = t.backend().buffer();
    assert!(
        buf.content()
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset),
        "no colour at all"
    );
}

#[test]
fn detail_tabs() {
    let mut app = app();
    app.update(Action::Down);
    app.update(Action::Down);
    assert_eq!(
        app.update(Action::Enter),
        Some(Effect::LoadDetail("event-3".into()))
    );
    let body =
        std::fs::read_to_string(repo_file("examples/payloads/apply-failure.json")).expect("f");
    app.apply(Message::Detail {
        event_id: "event-3".into(),
        body,
        attempts: vec![(
            "delivery-3-0".into(),
            vec![AttemptRow {
                number: 1,
                started_at: 0,
                latency_ms: 12,
                outcome: herald::notify::Outcome::Retryable,
                status: Some(503),
                error: Some("sending webhook to \"https://audit.acme.example\": returned status 503: busy".into()),
                hint: None,
                request: r#"{"method":"POST","url":"https://audit.acme.example/atlantis?token=<redacted>","headers":[["Content-Type","application/json"]],"body":null}"#.into(),
                response: "busy".into(),
            }],
        )],
    });
    insta::assert_snapshot!("detail_payload", render(&app, &theme(), 100, 30).backend());
    let asked = app.update(Action::Next);
    answer_preview(&mut app, asked);
    insta::assert_snapshot!("detail_message", render(&app, &theme(), 100, 30).backend());
    app.update(Action::Next);
    insta::assert_snapshot!("detail_attempts", render(&app, &theme(), 100, 30).backend());
    assert_eq!(
        confirmed(&mut app, Action::Replay),
        Some(Effect::Replay {
            id: "delivery-3-0".into(),
            webhooks: vec![]
        })
    );
}

#[test]
fn help_filters_as_you_type() {
    let mut app = app();
    app.update(Action::Help);
    for c in "filter".chars() {
        app.update(typed(c));
    }
    let t = render(&app, &theme(), 100, 30);
    insta::assert_snapshot!(t.backend());
    let s = screen(&t);
    assert!(s.contains("filter the list") && !s.contains("quit"), "{s}");
}

/// An outward action asks first, naming what it does; `y` then gives the effect.
fn confirmed(app: &mut App, action: Action) -> Option<Effect> {
    assert_eq!(app.update(action.clone()), None, "{action:?} asks first");
    let Overlay::Confirm { text, .. } = &app.overlay else {
        panic!("{action:?} opens a confirmation: {:?}", app.overlay)
    };
    assert!(text.ends_with('?'), "{text}");
    app.update(Action::Confirm)
}

fn editor_app() -> App {
    let mut app = app();
    app.update(Action::Pane(Pane::Webhooks));
    app.update(Action::EditFilter);
    assert!(matches!(app.overlay, Overlay::Editor(_)));
    app
}

fn type_pattern(app: &mut App, pattern: &str) {
    for _ in 0..20 {
        app.update(Action::Input(tui_input::InputRequest::DeletePrevChar));
    }
    for c in pattern.chars() {
        app.update(typed(c));
    }
}

#[test]
fn filter_editor_match() {
    let mut app = editor_app();
    type_pattern(&mut app, "(ion|ing)$");
    let Overlay::Editor(e) = &app.overlay else {
        panic!("editor")
    };
    assert_eq!(
        (e.eval.gained, e.eval.lost),
        (1, 0),
        "staging matches now too"
    );
    let t = render(&app, &theme(), 100, 30);
    insta::assert_snapshot!(t.backend());
    // The matched span of "production" is highlighted.
    assert_eq!(fg_of(&t, "ion "), theme().matched.fg);
}

#[test]
fn filter_editor_non_match() {
    let mut app = editor_app();
    type_pattern(&mut app, "^dev$");
    let Overlay::Editor(e) = &app.overlay else {
        panic!("editor")
    };
    assert_eq!((e.eval.gained, e.eval.lost), (0, 1));
    insta::assert_snapshot!(render(&app, &theme(), 100, 30).backend());
}

#[test]
fn filter_editor_syntax_error() {
    let mut app = editor_app();
    type_pattern(&mut app, "prod(");
    let Overlay::Editor(e) = &app.overlay else {
        panic!("editor")
    };
    assert!(e.eval.error.is_some());
    let t = render(&app, &theme(), 100, 30);
    insta::assert_snapshot!(t.backend());
    assert!(screen(&t).contains("error parsing regexp: missing closing )"));
    // A pattern that does not compile is neither applied nor written.
    assert_eq!(app.update(Action::Enter), None);
    assert_eq!(app.update(Action::Write), None);
}

#[test]
fn filter_editor_applies_and_writes() {
    let mut app = editor_app();
    type_pattern(&mut app, "^prod");
    assert_eq!(
        app.update(Action::Enter),
        Some(Effect::ApplyFilter {
            webhook: 0,
            field: Subject::Workspace,
            pattern: "^prod".into()
        })
    );
    app.update(Action::Next);
    type_pattern(&mut app, "^main$");
    assert_eq!(
        confirmed(&mut app, Action::Write),
        Some(Effect::WriteFilter {
            webhook: 0,
            field: Subject::BaseBranch,
            pattern: "^main$".into()
        })
    );
    app.update(Action::Back);
    assert!(matches!(app.overlay, Overlay::None));
}

#[test]
fn filter_editor_tests_project_and_directory_with_the_other_values_shown() {
    let mut app = editor_app();
    // tab walks workspace → branch → project → directory, and back around.
    for _ in 0..2 {
        app.update(Action::Next);
    }
    type_pattern(&mut app, "^databases-");
    let Overlay::Editor(e) = &app.overlay else {
        panic!("editor")
    };
    assert_eq!(e.field, Subject::Project);
    // Only the event whose project matches stays: the other has no project name.
    assert_eq!(
        e.eval.rows.iter().map(|r| r.now).collect::<Vec<_>>(),
        [false, true],
        "{:?}",
        e.eval.rows
    );
    let row = &e.eval.rows[1];
    assert_eq!(row.value, "databases-production");
    assert_eq!(
        row.values,
        [
            "production",
            "main",
            "databases-production",
            "terraform/databases"
        ]
    );
    let t = render(&app, &theme(), 120, 30);
    let text = screen(&t);
    assert!(
        text.contains("directory") && text.contains("terraform/databases"),
        "{text}"
    );
    assert_eq!(
        app.update(Action::Enter),
        Some(Effect::ApplyFilter {
            webhook: 0,
            field: Subject::Project,
            pattern: "^databases-".into()
        })
    );
    app.update(Action::Next);
    app.update(Action::Next);
    let Overlay::Editor(e) = &app.overlay else {
        panic!("editor")
    };
    assert_eq!(e.field, Subject::Workspace, "wraps around");
    app.update(Action::Prev);
    let Overlay::Editor(e) = &app.overlay else {
        panic!("editor")
    };
    assert_eq!(e.field, Subject::Directory, "and back");
}

/// Answers a preview the console asked for as the API would (the same `notify::preview`
/// over the same config), keeping these tests at the pure `update`/`apply` level.
fn answer_preview(app: &mut App, effect: Option<Effect>) {
    let Some(Effect::Preview {
        webhook,
        what,
        width,
    }) = effect
    else {
        panic!("a preview is asked for: {effect:?}")
    };
    let config = load_ok(CONFIG, None, None);
    let event = match what {
        herald::api::client::Preview::Event(id) => {
            let e = app.events.iter().find(|e| e.id == id).expect("listed");
            e.event.as_ref().clone()
        }
        herald::api::client::Preview::Payload(p) => {
            herald::intake::read(p.to_string().as_bytes(), None)
                .expect("reads")
                .into_event()
                .expect("an event")
                .event
        }
    };
    let w = &config.webhooks[webhook];
    let answer = herald::notify::preview(&config, w, &event, width)
        .map(|(request, preview)| {
            Box::new(herald::api::wire::PreviewAnswer {
                webhook: w.label(),
                request,
                preview,
            })
        })
        .map_err(|e| e.to_string());
    app.apply(Message::Preview { webhook, answer });
}

#[test]
fn test_fire_dialog() {
    let mut app = app();
    app.update(Action::Pane(Pane::Webhooks));
    let asked = app.update(Action::Fire);
    answer_preview(&mut app, asked);
    insta::assert_snapshot!("fire_preview", render(&app, &theme(), 100, 30).backend());
    let effect = confirmed(&mut app, Action::Enter);
    assert!(
        matches!(&effect, Some(Effect::Fire { webhooks, .. }) if webhooks == &vec![0]),
        "{effect:?}"
    );
    app.apply(Message::Fired(vec![herald::tui::fire::FireResult {
        label: "prod-applies".into(),
        ok: false,
        status: Some(200),
        error: Some("not_in_channel".into()),
        hint: Some("the bot is not in the channel: invite it (/invite @your-bot) or add the chat:write.public scope".into()),
    }]));
    insta::assert_snapshot!("fire_answer", render(&app, &theme(), 100, 30).backend());
    assert_eq!(
        app.update(Action::OpenEditor)
            .map(|e| matches!(e, Effect::EditPayload(_))),
        Some(true)
    );
    app.apply(Message::Edited("{\"hello\": 1}".into()));
    let Overlay::Fire(f) = &app.overlay else {
        panic!("fire")
    };
    assert!(
        f.parsed.is_err(),
        "an edited payload that is no event is refused before sending"
    );
}

#[test]
fn replay_to_dialog() {
    let mut app = app();
    app.update(Action::ReplayTo);
    app.update(Action::Down);
    insta::assert_snapshot!(render(&app, &theme(), 100, 30).backend());
    assert_eq!(
        app.update(Action::Enter),
        None,
        "an apply webhook: asks first"
    );
    assert_eq!(
        confirmed(&mut app, Action::Enter),
        Some(Effect::Replay {
            id: "event-5".into(),
            webhooks: vec![1]
        })
    );
}

#[test]
fn small_terminal_says_so() {
    let app = app();
    let t = render(&app, &theme(), 60, 20);
    insta::assert_snapshot!(t.backend());
    assert!(screen(&t).contains("at least 80x24"));
    // 80x24 itself lays out fully.
    let t = render(&app, &theme(), 80, 24);
    insta::assert_snapshot!("minimum_size", t.backend());
}

#[test]
fn navigation_follow_filter_and_clicks() {
    let mut app = app();
    assert!(app.follow);
    app.update(Action::Down);
    assert!(!app.follow, "moving down stops following");
    let mut newer = app.events[0].clone();
    newer.id = "event-6".into();
    app.apply(Message::Recorded(newer));
    assert_eq!(
        app.selected_event().map(|e| e.id.as_str()),
        Some("event-4"),
        "selection stays on the same event"
    );
    app.update(Action::ToggleFollow);
    assert_eq!(app.selected_event().map(|e| e.id.as_str()), Some("event-6"));
    app.update(Action::Filter);
    for c in "!drift".chars() {
        app.update(typed(c));
    }
    app.update(Action::Enter);
    assert_eq!(app.event_rows().len(), 2, "inverted: only the applies");
    app.update(Action::Back);
    assert_eq!(app.event_rows().len(), 6);
    app.update(Action::Click(18, 0));
    assert_eq!(app.pane, Pane::Events);
    app.update(Action::Click(2, 0));
    assert_eq!(app.pane, Pane::Webhooks);
    app.update(Action::Click(5, 4));
    assert_eq!(app.selected(), 1, "a click selects the row");
    assert_eq!(
        confirmed(&mut app, Action::TogglePause),
        Some(Effect::Pause(true))
    );
    app.apply(Message::Paused(true));
    let s = screen(&render(&app, &theme(), 100, 30));
    assert!(s.contains("⏸ PAUSED"), "{s}");
    assert_eq!(app.update(Action::Quit), Some(Effect::Quit));
}

#[test]
fn attempts_update_the_lists() {
    let mut app = app();
    app.apply(Message::Attempted {
        event_id: "event-3".into(),
        delivery_id: "delivery-3-0".into(),
        label: "audit".into(),
        status: DeliveryStatus::Succeeded,
        attempts: 4,
        error: None,
        hint: None,
    });
    let e = app
        .events
        .iter()
        .find(|e| e.id == "event-3")
        .expect("event");
    assert_eq!(e.deliveries[0].status, DeliveryStatus::Succeeded);
    assert_eq!(app.stats[1].delivered, 2);
}

#[test]
fn the_selection_stays_on_its_event_when_hidden_ones_arrive() {
    let mut app = app();
    app.update(Action::Filter);
    for c in "!drift".chars() {
        app.update(typed(c));
    }
    app.update(Action::Enter);
    app.update(Action::Down);
    assert!(!app.follow);
    let picked = app.selected_event().map(|e| e.id.clone());
    assert!(picked.is_some());
    // A drift report arrives: the filter hides it, and the selection must not move.
    let mut hidden = app
        .events
        .iter()
        .find(|e| e.event.kind() == herald::config::EventKind::Drift)
        .expect("a drift event")
        .clone();
    hidden.id = "event-hidden".into();
    app.apply(Message::Recorded(hidden));
    assert_eq!(app.selected_event().map(|e| e.id.clone()), picked);
    // Replaying now replays the event the operator picked.
    assert_eq!(
        confirmed(&mut app, Action::Replay),
        Some(Effect::Replay {
            id: picked.expect("picked"),
            webhooks: Vec::new()
        })
    );
}

#[test]
fn an_event_or_delivery_is_never_listed_twice() {
    let mut app = app();
    let n = app.events.len();
    let again = app.events[1].clone();
    app.apply(Message::Recorded(again));
    assert_eq!(app.events.len(), n, "an event the load already brought");
    app.apply(Message::Attempted {
        event_id: "event-3".into(),
        delivery_id: "replayed-1".into(),
        label: "audit".into(),
        status: DeliveryStatus::Succeeded,
        attempts: 1,
        error: None,
        hint: None,
    });
    app.apply(Message::Replayed {
        event_id: "event-3".into(),
        deliveries: vec![("replayed-1".into(), "audit".into())],
    });
    let e = app
        .events
        .iter()
        .find(|e| e.id == "event-3")
        .expect("event");
    let copies: Vec<_> = e
        .deliveries
        .iter()
        .filter(|d| d.id == "replayed-1")
        .collect();
    assert_eq!(copies.len(), 1, "{:?}", e.deliveries);
    assert_eq!(
        copies[0].status,
        DeliveryStatus::Succeeded,
        "not stuck at pending"
    );
}

#[tokio::test]
async fn writing_one_filter_keeps_the_other_applied_edit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("herald.yaml");
    std::fs::write(
        &path,
        "webhooks:\n  - event: apply\n    kind: http\n    url: https://x.example/h\n    workspace-regex: ^prod$\n",
    )
    .expect("config");
    let load = herald::config::LoadOptions {
        path: Some(path.clone()),
        ..herald::config::LoadOptions::default()
    };
    let (config, _) = herald::config::load(&load).expect("loads");
    let data = dir.path().join("data");
    let journal =
        herald::store::Journal::open(&data, herald::store::Commit::Grouped).expect("journal");
    let engine = herald::dispatch::Engine::new(
        Arc::new(config),
        journal,
        herald::dispatch::EngineOptions::default(),
    )
    .expect("engine");
    // The console's path: the operator API, in-process.
    let client = herald::api::Api::new(engine.clone(), Some(load)).local_client();
    // The branch filter is applied to the running engine (enter), not saved.
    client
        .set_filter(0, Subject::BaseBranch.key(), "^main$", false)
        .await
        .expect("applied");
    // Now the workspace filter is written (ctrl-s).
    let answer = client
        .set_filter(0, Subject::Workspace.key(), "^staging$", true)
        .await
        .expect("written");
    let running = engine.config();
    assert_eq!(running.webhooks[0].workspace_regex.pattern(), "^staging$");
    assert_eq!(
        running.webhooks[0].branch_regex.pattern(),
        "^main$",
        "the applied branch filter survives the write"
    );
    let said = answer["said"].as_str().expect("said");
    assert!(said.contains("branch-regex (applied earlier"), "{said}");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains("branch-regex: ^main$"), "{text}");
}

/// The detail's Message tab is what the delivery's webhook gets, built by the same
/// `prepare` that sends it: a Slack webhook's message as Slack lays it out, a plain
/// receiver's JSON body (the `detail_message` snapshot) — not a Slack message for every kind.
#[test]
fn detail_message_is_the_webhooks_own_request() {
    let mut app = app();
    assert_eq!(
        app.update(Action::Enter),
        Some(Effect::LoadDetail("event-5".into()))
    );
    let asked = app.update(Action::Next);
    answer_preview(&mut app, asked);
    let s = screen(&render(&app, &theme(), 100, 30));
    assert!(s.contains("drift-alerts → POST"), "{s}");
    assert!(s.contains("chat.postMessage"), "{s}");
    assert!(s.contains("▌"), "the Slack layout, with its bar: {s}");
    assert!(!s.contains("\"attachments\""), "not the raw JSON: {s}");
}

/// `R` to a webhook of the other event kind warns and asks again before sending: a drift
/// report replayed to an apply webhook is rarely meant.
#[test]
fn replay_to_a_webhook_of_the_other_kind_warns_first() {
    let mut app = app();
    // The newest event is an env0 drift; the first webhook takes applies.
    app.update(Action::ReplayTo);
    assert_eq!(
        app.update(Action::Enter),
        None,
        "not sent on the first enter"
    );
    let s = screen(&render(&app, &theme(), 100, 30));
    assert!(s.contains("enter again sends it anyway"), "{s}");
    // Moving on clears the warning; the drift webhook takes it at once.
    app.update(Action::Down);
    app.update(Action::Down);
    assert_eq!(
        confirmed(&mut app, Action::Enter),
        Some(Effect::Replay {
            id: "event-5".into(),
            webhooks: vec![2]
        })
    );
    // Back on the apply webhook: warned, then sent when confirmed.
    app.update(Action::ReplayTo);
    app.update(Action::Enter);
    assert_eq!(
        confirmed(&mut app, Action::Enter),
        Some(Effect::Replay {
            id: "event-5".into(),
            webhooks: vec![0]
        })
    );
}

fn drift_payload(repo: &str, drifted: bool) -> herald::intake::Received {
    let body = serde_json::json!({"repository": repo, "ref": "main", "detection_id": repo,
        "projects_with_drift": u8::from(drifted), "total_projects": 1, "projects": []})
    .to_string();
    herald::intake::read(body.as_bytes(), None)
        .expect("reads")
        .into_event()
        .expect("an event")
}

/// Scrolling the Events list goes on past the first page into the whole journal (older
/// pages fetched as the end comes near), and `/` + enter searches the journal by field,
/// not just what is loaded: here through the same API client the console uses, over a
/// real journal of 1,150 events, the one looked for being the oldest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_pages_into_history_and_searches_the_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = load_ok(
        "webhooks:\n  - {name: alerts, event: drift, kind: http, url: 'http://127.0.0.1:9/d'}\n",
        None,
        None,
    );
    let journal =
        herald::store::Journal::open(dir.path(), herald::store::Commit::Grouped).expect("journal");
    let engine = herald::dispatch::Engine::new(
        Arc::new(config),
        journal,
        herald::dispatch::EngineOptions::default(),
    )
    .expect("engine");
    let route = herald::dispatch::Selection::Route;
    // The oldest: a drift that went to the webhook (its delivery stays pending: no worker).
    engine
        .accept(
            herald::intake::Source::Drift,
            drift_payload("acme/oldest", true),
            &route,
        )
        .await
        .expect("accepted");
    for n in 0..1149 {
        engine
            .accept(
                herald::intake::Source::Drift,
                drift_payload(&format!("acme/r{n}"), false),
                &route,
            )
            .await
            .expect("accepted");
    }
    let client = herald::api::Api::new(engine.clone(), None).local_client();
    let mut app = App::new(
        client.webhooks().await.expect("webhooks"),
        "127.0.0.1:4141".into(),
        Vec::new(),
    );
    let first = client.events(None, 200, "").await.expect("page");
    app.apply(Message::Loaded(
        first.events.into_iter().map(EventItem::from).collect(),
    ));
    app.apply(Message::Cursor(first.next));
    app.update(Action::Resize(120, 40));
    app.update(Action::ToggleFollow);
    let mut pages = 1;
    for _ in 0..2000 {
        if let Some(Effect::LoadOlder { before, q }) = app.update(Action::PageDown) {
            assert!(q.is_empty());
            let page = client.events(Some(before), 200, &q).await.expect("older");
            pages += 1;
            app.apply(Message::Older {
                items: page.events.into_iter().map(EventItem::from).collect(),
                next: page.next,
            });
        }
        if app.older.is_none() && app.selected() + 1 == app.event_rows().len() {
            break;
        }
    }
    assert_eq!(
        app.events.len(),
        1150,
        "the whole journal, in {pages} pages"
    );
    assert!(pages >= 6, "{pages}");
    assert!(
        app.selected_event()
            .expect("selected")
            .summary()
            .contains("acme/oldest"),
        "scrolled to the oldest event"
    );

    // Back to the top, then search the journal by field and text.
    app.update(Action::Top);
    app.update(Action::Filter);
    for c in "kind:drift status:pending oldest".chars() {
        app.update(typed(c));
    }
    let Some(Effect::Search(q)) = app.update(Action::Enter) else {
        panic!("enter searches the journal")
    };
    let found = client.events(None, 200, &q).await.expect("search");
    app.apply(Message::Searched {
        q,
        items: found.events.into_iter().map(EventItem::from).collect(),
        next: found.next,
    });
    assert_eq!(app.event_rows().len(), 1, "only the oldest is pending");
    let s = screen(&render(&app, &theme(), 120, 30));
    assert!(s.contains("journal search"), "{s}");
    let oldest = app.selected_event().expect("selected").id.clone();
    assert_eq!(
        confirmed(&mut app, Action::Replay),
        Some(Effect::Replay {
            id: oldest,
            webhooks: vec![]
        })
    );
    // Leaving the filter brings the live list back.
    assert_eq!(
        app.update(Action::Back),
        Some(Effect::Search(String::new()))
    );
}

/// Letters typed in the event detail never act by accident: "/error" used to queue a real
/// replay for each `r`. Now `/` searches the detail (the letters are its text), and an `r`
/// asks first; esc cancels with nothing sent.
#[test]
fn typing_in_the_detail_sends_nothing_without_a_yes() {
    let mut app = app();
    app.update(Action::Enter);
    // Real keys, through the console's key map.
    let mut effects = Vec::new();
    for c in "/error".chars() {
        let key = crossterm::event::Event::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::NONE,
        ));
        if let Some(action) = herald::tui::keys::map(&app, &key) {
            effects.extend(app.update(action));
        }
    }
    assert!(effects.is_empty(), "{effects:?}");
    // "/error" became a search inside the detail: its letters did nothing else.
    assert!(
        matches!(&app.overlay, Overlay::Detail(d) if d.find.as_ref().is_some_and(|f| f.input.value() == "error")),
        "{:?}",
        app.overlay
    );
    app.update(Action::Back);
    // And an `r` outside a search asks before anything is sent; no cancels.
    assert_eq!(app.update(Action::Replay), None);
    assert!(matches!(app.overlay, Overlay::Confirm { .. }));
    assert_eq!(app.update(Action::Back), None);
    assert!(
        matches!(app.overlay, Overlay::Detail(_)),
        "back in the detail"
    );
    assert!(
        app.toast
            .as_ref()
            .is_some_and(|t| t.text.contains("nothing was sent")),
        "{:?}",
        app.toast
    );
}

/// The Events list tells the event's verdict (its summary, red or green) apart from how
/// its deliveries went (a word of its own): "✓" beside "Apply failed" read as the apply's.
#[test]
fn events_show_the_verdict_and_the_delivery_apart() {
    let mut app = app();
    app.update(Action::ToggleFollow);
    app.update(Action::Bottom);
    let th = theme();
    let t = render(&app, &th, 100, 30);
    let s = screen(&t);
    assert!(s.contains("delivery"), "{s}");
    assert_eq!(
        fg_of(&t, "Apply failed"),
        th.bad.fg,
        "a failed apply is red"
    );
    assert_eq!(fg_of(&t, "No drift in"), th.ok.fg, "no drift is green");
    assert_eq!(
        fg_of(&t, "⟳ sending"),
        th.warn.fg,
        "its delivery is still going"
    );
}

/// `:` commands are aliases a k9s user expects: `:failed` searches the journal for failed
/// deliveries, `:replay failed` replays them after a yes, an unknown command lists the known.
#[test]
fn command_mode_aliases() {
    let mut app = app();
    app.update(Action::Command);
    for c in "failed".chars() {
        app.update(typed(c));
    }
    assert_eq!(
        app.update(Action::Enter),
        Some(Effect::Search("status:failed".into()))
    );
    app.update(Action::Command);
    for c in "replay failed".chars() {
        app.update(typed(c));
    }
    let s = {
        assert_eq!(app.update(Action::Enter), None, "asks first");
        screen(&render(&app, &theme(), 100, 30))
    };
    assert!(s.contains("Replay every failed delivery"), "{s}");
    assert_eq!(app.update(Action::Confirm), Some(Effect::ReplayFailed));
    app.update(Action::Command);
    for c in "frobnicate".chars() {
        app.update(typed(c));
    }
    assert_eq!(app.update(Action::Enter), None);
    assert!(
        app.toast
            .as_ref()
            .is_some_and(|t| t.error && t.text.contains(":webhook NAME")),
        "{:?}",
        app.toast
    );
}

/// `space` marks events; `r` then replays every marked one after one yes that says how
/// many, and the marks go.
#[test]
fn marked_events_are_replayed_together() {
    let mut app = app();
    app.update(Action::ToggleFollow);
    app.update(Action::Mark);
    app.update(Action::Mark);
    assert_eq!(
        app.marked,
        vec!["event-5".to_string(), "event-4".to_string()]
    );
    let s = screen(&render(&app, &theme(), 100, 30));
    assert!(s.contains("2 marked"), "{s}");
    assert_eq!(app.update(Action::Replay), None);
    let s = screen(&render(&app, &theme(), 100, 30));
    assert!(s.contains("Replay 2 marked events"), "{s}");
    assert_eq!(
        app.update(Action::Confirm),
        Some(Effect::ReplayMany(vec!["event-5".into(), "event-4".into()]))
    );
    assert!(app.marked.is_empty());
}

/// `/` in the event detail finds text in it (letters typed go to the search, never to the
/// keys), `n`/`N` move between matches, esc leaves the search and then the detail.
#[test]
fn detail_find_takes_letters_and_moves_between_matches() {
    let mut app = app();
    app.update(Action::Down);
    app.update(Action::Down);
    app.update(Action::Enter);
    let body =
        std::fs::read_to_string(repo_file("examples/payloads/apply-failure.json")).expect("f");
    app.apply(Message::Detail {
        event_id: "event-3".into(),
        body,
        attempts: vec![],
    });
    app.update(Action::Filter);
    let mut effects = Vec::new();
    for c in "acme".chars() {
        // 'r', 'e' and the rest would act outside a search.
        effects.extend(app.update(typed(c)));
    }
    effects.extend(app.update(Action::Replay));
    assert!(effects.is_empty(), "{effects:?}");
    app.update(Action::Enter);
    let s = screen(&render(&app, &theme(), 100, 30));
    assert!(s.contains("/acme") && s.contains("1 of"), "{s}");
    app.update(Action::FindNext);
    let s = screen(&render(&app, &theme(), 100, 30));
    assert!(s.contains("2 of"), "{s}");
    app.update(Action::FindPrev);
    app.update(Action::FindPrev);
    let s = screen(&render(&app, &theme(), 100, 30));
    assert!(
        !s.contains("1 of") && !s.contains("2 of"),
        "wraps to the last: {s}"
    );
    app.update(Action::Back);
    assert!(matches!(&app.overlay, Overlay::Detail(d) if d.find.is_none()));
    app.update(Action::Back);
    assert!(matches!(app.overlay, Overlay::None));
}

/// At 80 columns the Webhooks list keeps its names whole ("drift-alerts", not "drift-"):
/// the side panel gives way before the list does.
#[test]
fn names_fit_at_80_columns() {
    let mut app = app();
    app.update(Action::Pane(Pane::Webhooks));
    let s = screen(&render(&app, &theme(), 80, 24));
    // The list's own row (the side panel names the selected webhook only).
    assert!(s.lines().any(|l| l.contains("│drift-alerts drift")), "{s}");
}
