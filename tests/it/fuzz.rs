//! Property-based fuzzing (cargo-fuzz needs a nightly toolchain, which this project's
//! machines cannot fetch): the config loader, the `--webhook-http-headers` parser, the three
//! event parsers, the filter compiler, the Slack renderer, the write-back and the ingest
//! request path get random and mutated inputs; none may panic, hang or answer with a 5xx.
//! The seed corpus is `examples/`. `PROPTEST_CASES` sets the budget (`scripts/fuzz.sh`
//! runs a long one); failures proptest finds are saved in `tests/proptest-regressions/` and replayed first.

use std::sync::{Arc, OnceLock};

use proptest::prelude::*;

use herald::config::{Filter, LoadOptions, headers, load_str, set_webhook_value};
use herald::event;

const FIXTURES: [&str; 6] = [
    include_str!("../../examples/payloads/apply-success.json"),
    include_str!("../../examples/payloads/apply-failure.json"),
    include_str!("../../examples/payloads/drift-detected.json"),
    include_str!("../../examples/payloads/drift-clean.json"),
    include_str!("../../examples/payloads/env0-drift-detected.json"),
    include_str!("../../examples/payloads/env0-test.json"),
];

const CONFIGS: [&str; 3] = [
    include_str!("../../examples/configs/atlantis-server.yaml"),
    include_str!("../../examples/configs/helm-values.yaml"),
    include_str!("../../examples/configs/herald-extensions.yaml"),
];

/// A seed with a few bytes overwritten, some bytes inserted, and maybe cut short.
fn mutated(seeds: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    (
        0..seeds.len(),
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        prop::collection::vec(
            (
                any::<usize>(),
                prop::sample::select(b"{}[]\":,\\\n -#&*!|>'\x00\xff".to_vec()),
            ),
            0..6,
        ),
        prop::option::of(any::<usize>()),
    )
        .prop_map(move |(i, sets, inserts, cut)| {
            let mut b = seeds[i].as_bytes().to_vec();
            for (at, v) in sets {
                if !b.is_empty() {
                    let n = b.len();
                    b[at % n] = v;
                }
            }
            for (at, v) in inserts {
                let n = b.len() + 1;
                b.insert(at % n, v);
            }
            if let Some(c) = cut {
                let n = b.len() + 1;
                b.truncate(c % n);
            }
            b
        })
}

fn no_env() -> LoadOptions {
    LoadOptions {
        vars: Arc::new(|_| Some("x".into())),
        ..LoadOptions::default()
    }
}

proptest! {
    #[test]
    fn config_loader_never_panics(bytes in mutated(&CONFIGS)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = load_str(&text, "fuzz.yaml", &no_env());
    }

    #[test]
    fn config_loader_takes_any_text(text in "\\PC{0,300}") {
        let _ = load_str(&text, "fuzz.yaml", &no_env());
    }

    #[test]
    fn config_loader_takes_webhook_shaped_yaml(
        entries in prop::collection::vec((
            prop::sample::select(vec!["event", "kind", "channel", "url", "workspace-regex", "branch-regex", "name", "headers", "secret", "timeout", "retry", "bogus"]),
            "[a-z0-9:/.(\\[^$*{}-]{0,12}",
        ), 0..8)
    ) {
        let mut text = String::from("slack-token: t\nwebhooks:\n  - ");
        for (i, (k, v)) in entries.iter().enumerate() {
            if i > 0 {
                text.push_str("    ");
            }
            text.push_str(&format!("{k}: '{}'\n", v.replace('\'', "")));
        }
        let _ = load_str(&text, "fuzz.yaml", &no_env());
    }

    #[test]
    fn header_flag_parser_never_panics(text in "\\PC{0,200}", seedy in r#"\{("[A-Za-z-]{0,8}": ?(\[("[a-z]{0,4}",? ?|1,|true,|null,){0,3}\]|"[a-z ]{0,6}"|1|null|\{\}),? ?){0,4}\}"#) {
        let _ = headers::parse_json(&text);
        let _ = headers::parse_json(&seedy);
    }

    #[test]
    fn event_parsers_never_panic(bytes in mutated(&FIXTURES)) {
        let _ = herald::intake::read(&bytes, None);
        let _ = event::parse_apply(&bytes);
        let _ = event::parse_drift(&bytes);
        let _ = herald::intake::read(&bytes, Some(event::Shape::Env0));
    }

    #[test]
    fn event_parsers_take_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = herald::intake::read(&bytes, None);
        let _ = herald::intake::read(&bytes, Some(event::Shape::Env0));
    }

    #[test]
    fn parsed_events_render_and_route(bytes in mutated(&FIXTURES), pattern in "\\PC{0,16}") {
        if let Ok(herald::intake::Inbound::Event(herald::intake::Received { event: e, .. })) =
            herald::intake::read(&bytes, None)
        {
            let m = herald::notify::slack::message(&e, Default::default());
            let body = herald::notify::slack::api_body("C1", &m);
            let _ = herald::notify::slack::render::render(&body, 40).to_terminal(false);
            if let Ok(f) = Filter::compile(&pattern) {
                let _ = e.subject(herald::event::Subject::Workspace).map(|w| f.find(w));
            }
        }
    }

    #[test]
    fn filter_compiler_never_panics(pattern in "\\PC{0,40}") {
        match Filter::compile(&pattern) {
            Ok(f) => { let _ = f.find("production"); }
            Err(p) => prop_assert!(p.message.starts_with("error parsing regexp: ")),
        }
    }

    #[test]
    fn write_back_never_panics_and_reads_back(value in "\\PC{0,30}", index in 0usize..4, file in 0usize..2) {
        let text = CONFIGS[file];
        if let Ok(new) = set_webhook_value(text, index, "workspace-regex", &value) {
            // Whatever was written reads back, in YAML, as exactly the value.
            let root: serde_yaml::Value = serde_yaml::from_str(&new).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let doc: serde_yaml::Value = match root.get("config").and_then(|c| c.as_str()) {
                Some(inner) => serde_yaml::from_str(inner).map_err(|e| TestCaseError::fail(e.to_string()))?,
                None => root,
            };
            prop_assert_eq!(doc["webhooks"][index]["workspace-regex"].as_str(), Some(value.as_str()));
        }
    }
}

/// One ingest router over a scratch journal, shared by every case.
fn router() -> &'static (axum::Router, tokio::runtime::Runtime) {
    static ROUTER: OnceLock<(axum::Router, tokio::runtime::Runtime)> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        let dir = Box::leak(Box::new(tempfile::tempdir().expect("tempdir")));
        let (config, _) = load_str(
            "herald:\n  env0-secret: s3cret-for-fuzzing\nwebhooks:\n  - {event: drift, kind: http, url: 'http://127.0.0.1:9/x'}\n",
            "fuzz.yaml",
            &no_env(),
        )
        .expect("config");
        let router = rt.block_on(async {
            let journal = herald::store::Journal::open(dir.path(), herald::store::Commit::Grouped).expect("journal");
            let engine = herald::dispatch::Engine::new(Arc::new(config), journal, herald::dispatch::EngineOptions::default()).expect("engine");
            herald::ingest::router(engine)
        });
        (router, rt)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64), ..ProptestConfig::default() })]

    #[test]
    fn ingest_answers_every_request_with_a_4xx_or_success(
        bytes in mutated(&FIXTURES),
        path in prop::sample::select(vec!["/events", "/events/apply", "/events/drift", "/events/env0"]),
        content_type in prop::option::of(prop::sample::select(vec!["application/json", "text/plain", "application/cloudevents+json", "application/json; charset=utf-8", "", "garbage/\u{0}"])),
        signature in prop::option::of("[0-9a-f]{0,64}"),
    ) {
        use tower::ServiceExt as _;
        let (router, rt) = router();
        let mut req = axum::http::Request::post(path);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if let Some(sig) = signature {
            req = req.header("x-env0-signature", sig);
        }
        let Ok(req) = req.body(axum::body::Body::from(bytes)) else { return Ok(()) };
        let response = rt.block_on(router.clone().oneshot(req)).expect("infallible");
        let status = response.status().as_u16();
        prop_assert!(matches!(status, 200 | 202 | 400 | 401 | 413 | 415), "status {status}");
    }
}
