//! The scheduler's REST API (actix-web), on a thread of its own:
//!
//! | method and path | what |
//! |---|---|
//! | `POST /v1/jobs` | submit a spec (JSON); `201 {"id"}`, `400` with the validation message |
//! | `GET /v1/jobs` | every job, oldest first |
//! | `GET /v1/jobs/{id}` | one job: state, vertices, tasks, timings, re-runs |
//! | `POST /v1/jobs/{id}/cancel` | stop it and delete its shuffle data |
//! | `GET /v1/jobs/{id}/result` | its `collect` rows (`409` until finished) |
//! | `GET /v1/workers`, `GET /v1/shuffle/nodes` | the cluster |
//! | `GET /healthz`, `GET /metrics` | health, Prometheus metrics |
//! | `GET /v1/openapi.json` | this API as OpenAPI 3 |
//!
//! With a token configured every `/v1` call needs `Authorization: Bearer
//! TOKEN` (`401` otherwise). Unknown ids are `404`.

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use faro_runtime::spec::JobSpec;

use crate::jobs::JobState;
use crate::service::{Scheduler, SchedulerError};

struct Api {
    scheduler: Arc<Scheduler>,
    token: Option<String>,
}

type State = web::Data<Api>;

fn error(status: StatusCode, message: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": message.to_string() }))
}

fn failure(e: SchedulerError) -> HttpResponse {
    let status = match &e {
        SchedulerError::Invalid(_) => StatusCode::BAD_REQUEST,
        SchedulerError::NotFound(_) => StatusCode::NOT_FOUND,
        SchedulerError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e)
}

/// The refusal to send, unless the request carries the configured token.
fn refusal(api: &Api, request: &HttpRequest) -> Option<HttpResponse> {
    let Some(token) = &api.token else {
        return None;
    };
    let given = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Constant-time comparison: the token is a secret.
    let matches = given.is_some_and(|g| {
        g.len() == token.len()
            && g.bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    (!matches).then(|| error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token"))
}

macro_rules! guarded {
    ($api:expr, $request:expr) => {
        if let Some(response) = refusal(&$api, &$request) {
            return response;
        }
    };
}

async fn submit(api: State, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    guarded!(api, request);
    let spec = match std::str::from_utf8(&body)
        .map_err(|e| e.to_string())
        .and_then(|text| JobSpec::parse(text).map_err(|e| e.to_string()))
    {
        Ok(spec) => spec,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    match api.scheduler.submit(spec) {
        Ok(id) => HttpResponse::Created().json(serde_json::json!({ "id": id })),
        Err(e) => failure(e),
    }
}

async fn list(api: State, request: HttpRequest) -> HttpResponse {
    guarded!(api, request);
    match api.scheduler.jobs() {
        Ok(jobs) => HttpResponse::Ok().json(
            jobs.iter()
                .map(|j| {
                    serde_json::json!({
                        "id": j.id, "name": j.name, "state": j.state,
                        "submitted_ms": j.submitted_ms, "finished_ms": j.finished_ms,
                    })
                })
                .collect::<Vec<_>>(),
        ),
        Err(e) => failure(e),
    }
}

async fn status(api: State, request: HttpRequest, id: web::Path<String>) -> HttpResponse {
    guarded!(api, request);
    match api.scheduler.job(&id) {
        Ok(job) => HttpResponse::Ok().json(job),
        Err(e) => failure(e),
    }
}

async fn cancel(api: State, request: HttpRequest, id: web::Path<String>) -> HttpResponse {
    guarded!(api, request);
    match api.scheduler.cancel(&id) {
        Ok(job) => HttpResponse::Ok().json(job),
        Err(e) => failure(e),
    }
}

async fn result(api: State, request: HttpRequest, id: web::Path<String>) -> HttpResponse {
    guarded!(api, request);
    match api.scheduler.result(&id) {
        Ok(Some(result)) => HttpResponse::Ok().json(result),
        Ok(None) => {
            let state = api
                .scheduler
                .job(&id)
                .map(|j| j.state)
                .unwrap_or(JobState::Failed);
            error(
                StatusCode::CONFLICT,
                format!(
                    "job {id} has no result: it is {}",
                    serde_json::to_value(state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                ),
            )
        }
        Err(e) => failure(e),
    }
}

async fn workers(api: State, request: HttpRequest) -> HttpResponse {
    guarded!(api, request);
    let workers: Vec<_> = api
        .scheduler
        .cluster()
        .workers
        .alive()
        .iter()
        .map(|w| {
            serde_json::json!({
                "id": w.id(), "slots": w.slots(), "embedded": w.is_local(),
                "last_heartbeat_ms_ago": w.silent_ms(),
            })
        })
        .collect();
    HttpResponse::Ok().json(workers)
}

async fn shuffle_nodes(api: State, request: HttpRequest) -> HttpResponse {
    guarded!(api, request);
    let nodes: Vec<_> = api
        .scheduler
        .cluster()
        .shuffle
        .iter()
        .flat_map(|s| {
            s.nodes.iter().map(move |(name, address)| {
                serde_json::json!({ "name": name, "address": address.to_string(), "replicas": s.replicas })
            })
        })
        .collect();
    HttpResponse::Ok().json(nodes)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

async fn metrics(api: State) -> HttpResponse {
    let jobs = match api.scheduler.jobs() {
        Ok(jobs) => jobs,
        Err(error) => return HttpResponse::InternalServerError().body(error.to_string()),
    };
    let mut text = crate::metrics::render(&jobs, api.scheduler.cluster().workers.alive().len());
    if let Some(node) = api.scheduler.embedded_node() {
        text.push_str(&node.worker().metrics().render());
        text.push_str(&node.shuffle().render_metrics());
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

/// The API as an OpenAPI 3 document.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Serves the API on `addr` until the process exits; returns the bound
/// address.
pub fn serve(
    addr: SocketAddr,
    scheduler: Arc<Scheduler>,
    token: Option<String>,
) -> std::io::Result<SocketAddr> {
    let (bound_tx, bound_rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("faro-rest".into())
        .spawn(move || {
            let api = web::Data::new(Api { scheduler, token });
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(api.clone())
                    .app_data(web::PayloadConfig::new(16 << 20))
                    .route("/v1/jobs", web::post().to(submit))
                    .route("/v1/jobs", web::get().to(list))
                    .route("/v1/jobs/{id}", web::get().to(status))
                    .route("/v1/jobs/{id}/cancel", web::post().to(cancel))
                    .route("/v1/jobs/{id}/result", web::get().to(result))
                    .route("/v1/workers", web::get().to(workers))
                    .route("/v1/shuffle/nodes", web::get().to(shuffle_nodes))
                    .route("/v1/openapi.json", web::get().to(openapi))
                    .route("/healthz", web::get().to(healthz))
                    .route("/metrics", web::get().to(metrics))
            })
            .workers(2)
            .disable_signals()
            .bind(addr);
            match server {
                Ok(server) => {
                    let _ = bound_tx.send(Ok(server.addrs()));
                    if let Err(e) = actix_web::rt::System::new().block_on(server.run()) {
                        tracing::error!(error = %e, "the REST API stopped");
                    }
                }
                Err(e) => {
                    let _ = bound_tx.send(Err(e));
                }
            }
        })?;
    let addrs = bound_rx
        .recv()
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    addrs
        .first()
        .copied()
        .ok_or_else(|| std::io::Error::other("bound no address"))
}
