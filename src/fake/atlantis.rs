//! A fake of Atlantis' drift API (`POST /api/drift/detect`) on loopback, answering as
//! Atlantis does: its envelope (`success`, `data`, `error`, `request_id`, `timestamp`),
//! 401 `invalid or missing API token` without the right `X-Atlantis-Token`, 400
//! `VALIDATION_ERROR` with Atlantis' field messages, 200 when no project errored and 207
//! when one did; or a 500, or no answer at all.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// How the fake answers the next detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Every project planned: `drifted` of `total` drifted (200).
    Clean {
        /// Projects with drift.
        drifted: usize,
        /// Projects in all.
        total: usize,
    },
    /// Some projects errored, such as one locked by an open PR (207).
    Partial {
        /// Projects with drift.
        drifted: usize,
        /// Projects that errored.
        errored: usize,
        /// Projects in all.
        total: usize,
    },
    /// A 500 with Atlantis' generic error.
    Internal,
    /// No answer for this long, then one of two projects drifted (200): a client with a
    /// shorter timeout sees a hang.
    Hang(Duration),
}

/// A detection request as the fake got it.
#[derive(Debug, Clone)]
pub struct Call {
    /// The `X-Atlantis-Token` header.
    pub token: Option<String>,
    /// The JSON body.
    pub body: Value,
}

#[derive(Default)]
struct State {
    queue: Vec<Answer>,
    calls: Vec<Call>,
    in_flight: usize,
    peak: usize,
}

/// A running fake; stops when dropped.
pub struct FakeAtlantis {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAtlantis {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeAtlantis {
    /// Starts on a free loopback port, taking `secret` as Atlantis' `--api-secret`. With
    /// nothing queued it answers [`Answer::Clean`] with one of two projects drifted.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(secret: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let (st, secret) = (state.clone(), secret.to_string());
        let app = Router::new().route(
            "/api/drift/detect",
            post(move |headers: HeaderMap, body: String| {
                let (st, secret) = (st.clone(), secret.clone());
                async move { detect(&st, &secret, &headers, &body).await }
            }),
        );
        let task = tokio::spawn(async move {
            let _stopped = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, task })
    }

    /// Atlantis' base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues answers for the next detections, in order.
    pub fn push(&self, answers: impl IntoIterator<Item = Answer>) {
        self.lock().queue.extend(answers);
    }

    /// The detections asked for so far.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The most detections that were being answered at once.
    pub fn peak(&self) -> usize {
        self.lock().peak
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn envelope(status: StatusCode, data: Value, error: Value) -> Response {
    (
        status,
        axum::Json(json!({
            "success": error.is_null(),
            "data": data,
            "error": error,
            "request_id": uuid::Uuid::new_v4().to_string(),
            "timestamp": crate::clock::rfc3339(crate::clock::now_ms()).to_string(),
        })),
    )
        .into_response()
}

async fn detect(st: &Mutex<State>, secret: &str, headers: &HeaderMap, body: &str) -> Response {
    let token = headers
        .get("x-atlantis-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let answer = {
        let mut s = st.lock().unwrap_or_else(PoisonError::into_inner);
        s.calls.push(Call {
            token: token.clone(),
            body: body.clone(),
        });
        s.in_flight += 1;
        s.peak = s.peak.max(s.in_flight);
        if s.queue.is_empty() {
            Answer::Clean {
                drifted: 1,
                total: 2,
            }
        } else {
            s.queue.remove(0)
        }
    };
    let response = answer_for(&answer, token.as_deref() == Some(secret), &body).await;
    st.lock().unwrap_or_else(PoisonError::into_inner).in_flight -= 1;
    response
}

async fn answer_for(answer: &Answer, authorised: bool, body: &Value) -> Response {
    if !authorised {
        return envelope(
            StatusCode::UNAUTHORIZED,
            Value::Null,
            json!({"code": "UNAUTHORIZED", "message": "invalid or missing API token"}),
        );
    }
    let mut details = Vec::new();
    for (field, message) in [
        ("repository", "repository is required"),
        ("ref", "ref is required"),
        ("type", "type is required"),
    ] {
        if body[field].as_str().is_none_or(str::is_empty) {
            details.push(json!({"field": field, "message": message}));
        }
    }
    if !details.is_empty() {
        return envelope(
            StatusCode::BAD_REQUEST,
            Value::Null,
            json!({"code": "VALIDATION_ERROR", "message": "validation failed", "details": details}),
        );
    }
    let (drifted, errored, total) = match answer {
        Answer::Clean { drifted, total } => (*drifted, 0, *total),
        Answer::Partial {
            drifted,
            errored,
            total,
        } => (*drifted, *errored, *total),
        Answer::Internal => {
            return envelope(
                StatusCode::INTERNAL_SERVER_ERROR,
                Value::Null,
                json!({"code": "INTERNAL_ERROR", "message": "internal server error"}),
            );
        }
        Answer::Hang(d) => {
            tokio::time::sleep(*d).await;
            (1, 0, 2)
        }
    };
    let git_ref = body["ref"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("refs/heads/")
        .to_string();
    let id = uuid::Uuid::new_v4().to_string();
    let projects: Vec<Value> = (0..total)
        .map(|i| {
            let mut p = json!({
                "project_name": format!("project{}", i + 1),
                "directory": format!("infra/project{}", i + 1),
                "workspace": "default",
                "ref": git_ref,
                "detection_id": id,
                "has_drift": false,
                "last_checked": crate::clock::rfc3339(crate::clock::now_ms()).to_string(),
            });
            if i < drifted {
                p["has_drift"] = json!(true);
                p["drift"] = json!({
                    "to_add": 1, "to_change": 2, "to_destroy": 0, "to_import": 0,
                    "to_forget": 0, "total_changes": 3,
                    "summary": "Plan: 1 to add, 2 to change, 0 to destroy.",
                    "changes_outside": false,
                });
            } else if i < drifted + errored {
                p["error"] = json!(format!(
                    "running plan: the default workspace at path infra/project{} is currently locked by another command that is running for this pull request.\nWait until the previous command is complete and try again",
                    i + 1
                ));
            }
            p
        })
        .collect();
    let status = if errored > 0 {
        StatusCode::MULTI_STATUS
    } else {
        StatusCode::OK
    };
    envelope(
        status,
        json!({
            "id": id,
            "repository": body["repository"],
            "projects": projects,
            "detected_at": crate::clock::rfc3339(crate::clock::now_ms()).to_string(),
            "summary": {
                "total_projects": total,
                "projects_with_drift": drifted,
                "projects_without_drift": total - drifted - errored,
                "projects_with_errors": errored,
            },
        }),
        Value::Null,
    )
}
