//! `herald demo`: everything a newcomer needs to see herald work, in one process: a fake
//! Slack (one channel where the bot was never invited), a fake HTTP receiver that is busy
//! now and then, a fake Teams workflow and a fake PagerDuty, a config using them, and a
//! gentle stream of sample events.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::dispatch::{Engine, Selection};
use crate::fake::chat::{FakeChat, Service};
use crate::fake::http::FakeHttp;
use crate::fake::slack::{FakeSlack, Options, Scenario};
use crate::fake::teams::FakeTeams;
use crate::intake::{self, Inbound, Source};

/// The fake services and the config that points at them.
pub struct Demo {
    /// The fake Slack.
    pub slack: FakeSlack,
    /// The fake HTTP receiver.
    pub http: FakeHttp,
    /// The fake Teams Workflows webhook.
    pub teams: FakeTeams,
    /// The fake PagerDuty Events API.
    pub pagerduty: FakeChat,
    /// The demo config (an Atlantis server config using herald's extensions).
    pub config: String,
}

/// The channel where the demo bot "was never invited".
pub const UNINVITED: &str = "C0NOTINVITED";

impl Demo {
    /// Starts the fakes.
    ///
    /// # Errors
    /// When a loopback port cannot be bound.
    pub async fn start() -> std::io::Result<Self> {
        let slack = FakeSlack::start(Options {
            token: Some("xoxb-demo".into()),
            channels: vec![(UNINVITED.into(), Scenario::Error("not_in_channel".into()))],
            ..Options::default()
        })
        .await?;
        let http = FakeHttp::start(4).await?;
        let teams = FakeTeams::start().await?;
        let pagerduty = FakeChat::start(Service::PagerDuty).await?;
        let config = format!(
            "# herald demo: an Atlantis server config with herald's extensions.\n\
             slack-token: xoxb-demo\n\
             webhooks:\n\
             \x20 - name: prod-applies\n    event: apply\n    kind: slack\n    channel: C0PRODDEPLOY\n    workspace-regex: ^production$\n\
             \x20 - name: all-applies\n    event: apply\n    kind: http\n    url: {apply}\n    retry: {{max-attempts: 4, schedule: [2s, 5s]}}\n\
             \x20 - name: drift-alerts\n    event: drift\n    kind: slack\n    channel: C0DRIFT\n\
             \x20 - name: drift-oncall\n    event: drift\n    kind: slack\n    channel: {UNINVITED}\n\
             \x20 - name: drift-audit\n    event: drift\n    kind: http\n    url: {drift}\n    retry: {{max-attempts: 4, schedule: [2s, 5s]}}\n\
             \x20 - name: teams-applies\n    event: apply\n    kind: msteams\n    url: '{teams}'\n\
             \x20 - name: plans\n    event: plan\n    kind: slack\n    channel: C0PLANS\n\
             \x20 - name: drift-pager\n    event: drift\n    kind: pagerduty\n    routing-key: DEMO0ROUTING0KEY0000000000000000\n    url: {pager}\n",
            apply = http.url("/atlantis/apply"),
            drift = http.url("/atlantis/drift"),
            teams = teams.url(),
            pager = pagerduty.url(),
        );
        Ok(Self {
            slack,
            http,
            teams,
            pagerduty,
            config,
        })
    }
}

/// Sample payloads, varied a little each round so the lists look alive.
fn sample(round: u64) -> Vec<u8> {
    let fixtures = [
        include_str!("../examples/payloads/apply-success.json"),
        include_str!("../examples/payloads/drift-detected.json"),
        include_str!("../examples/payloads/apply-failure.json"),
        include_str!("../examples/payloads/drift-clean.json"),
        include_str!("../examples/payloads/env0-drift-detected.json"),
        include_str!("../examples/payloads/plan-failure.json"),
        include_str!("../examples/payloads/drift-errored.json"),
    ];
    let i = usize::try_from(round % 7).unwrap_or(0);
    let mut v: serde_json::Value = serde_json::from_str(fixtures[i]).unwrap_or_default();
    let workspaces = ["production", "staging", "dev", "production"];
    if let Some(ws) = v.get_mut("Workspace") {
        *ws = workspaces[usize::try_from(round % 4).unwrap_or(0)].into();
    }
    if let Some(id) = v.get_mut("detection_id") {
        *id = uuid::Uuid::new_v4().to_string().into();
    }
    if let Some(id) = v.get_mut("id") {
        *id = uuid::Uuid::new_v4().to_string().into();
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Feeds a sample event every `every` until `stop`.
pub async fn feed(engine: Engine, every: Duration, stop: CancellationToken) {
    let mut round = 0u64;
    loop {
        let body = sample(round);
        if let Ok(Inbound::Event(received)) = intake::read(&body, None) {
            let _ = engine
                .accept(Source::Demo, received, &Selection::Route)
                .await;
        }
        round += 1;
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
