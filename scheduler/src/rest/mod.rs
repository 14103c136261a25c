//! The scheduler's REST API (actix-web), on a thread of its own:
//!
//! | method and path | what |
//! |---|---|
//! | `POST /v1/jobs` | submit a spec (JSON or YAML, at most 1 MiB); `201 {"id"}`, `400` with the validation message, `413` if larger |
//! | `POST /v1/sql` | run a SQL script (text, or `{"sql": …}`): definitions and settings hold for the script, each query or `INSERT` is submitted as a job; `200 {"statements": [{"done"} or {"explain"} or {"job", "inserts_into"}]}`, `400 {"error", "kind", "line", "column"}` |
//! | `GET /v1/jobs?limit=N&after=CURSOR` | a page of jobs, oldest first: `{"jobs": […], "next": CURSOR or null}` (`limit` 1–1000, default 100) |
//! | `GET /v1/jobs/{id}` | one job: state, vertices, tasks, timings, re-runs |
//! | `GET /v1/jobs/{id}/spec` | the spec it was submitted with |
//! | `GET /v1/jobs/{id}/checkpoints` | a checkpointed job's history: complete checkpoints (id, trigger time, duration, bytes, alignment), abandoned, unusable, restores |
//! | `POST /v1/jobs/{id}/cancel` | stop it and delete its shuffle data |
//! | `GET /v1/jobs/{id}/result` | its `collect` rows (`409` until finished) |
//! | `GET /v1/jobs/{id}/graph` | its chains (operators, parallelism) and the exchanges between them |
//! | `GET /v1/workers`, `GET /v1/shuffle/nodes` | the cluster: workers with their running attempts, shuffle nodes with their counters (`rest/cluster.rs`) |
//! | `GET /healthz`, `GET /metrics` | health, Prometheus metrics |
//! | `GET /v1/openapi.json` | this API as OpenAPI 3 |
//! | `GET /`, `GET /ui/{file}` | the web UI ([`crate::ui`]), which reads only this API |
//!
//! With a token ([`ApiAccess::Token`]) every `/v1` call and `/metrics`
//! (which names jobs) need `Authorization: Bearer TOKEN` (`401`
//! otherwise); `/healthz` and the UI's static files (which hold no data)
//! never do. Unknown ids are `404`.

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use faro_runtime::spec::limits::MAX_SPEC_BYTES;
use faro_runtime::spec::JobSpec;

use crate::auth::ApiAccess;
use crate::jobs::JobState;
use crate::service::{Scheduler, SchedulerError};

/// Jobs per page of `GET /v1/jobs` unless the request says.
pub const DEFAULT_PAGE: usize = 100;
/// Most jobs one page may hold.
pub const MAX_PAGE: usize = 1000;

struct Api {
    scheduler: Arc<Scheduler>,
    access: ApiAccess,
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
        SchedulerError::Savepoint(_) => StatusCode::BAD_REQUEST,
        SchedulerError::Conflict(_) => StatusCode::CONFLICT,
    };
    error(status, e)
}

/// The refusal to send, unless the request carries the configured token.
fn refusal(api: &Api, request: &HttpRequest) -> Option<HttpResponse> {
    let given = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    (!api.access.allows(given))
        .then(|| error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token"))
}

/// The request's body, unless it is larger than `limit` bytes (read no
/// further than that).
async fn body_within(payload: web::Payload, limit: usize) -> Result<web::Bytes, HttpResponse> {
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(e)) => Err(error(StatusCode::BAD_REQUEST, e)),
        Err(_) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the job spec is larger than the {limit} bytes allowed"),
        )),
    }
}

macro_rules! guarded {
    ($api:expr, $request:expr) => {
        if let Some(response) = refusal(&$api, &$request) {
            return response;
        }
    };
}

// After the macro, which it uses.
mod cluster;

async fn submit(api: State, request: HttpRequest, payload: web::Payload) -> HttpResponse {
    guarded!(api, request);
    let body = match body_within(payload, MAX_SPEC_BYTES).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let spec = match std::str::from_utf8(&body)
        .map_err(|e| e.to_string())
        .and_then(|text| JobSpec::parse(text).map_err(|e| e.to_string()))
    {
        Ok(spec) => spec,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let query = match web::Query::<SubmitQuery>::from_query(request.query_string()) {
        Ok(query) => query.into_inner(),
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match api
        .scheduler
        .submit_from(spec, query.from_savepoint.as_deref())
    {
        Ok(id) => HttpResponse::Created().json(serde_json::json!({ "id": id })),
        Err(e) => failure(e),
    }
}

/// SQL jobs run this many subtasks per parallel vertex unless the script
/// sets `parallelism.default`.
pub const SQL_PARALLELISM: u32 = 2;

async fn sql(api: State, request: HttpRequest, payload: web::Payload) -> HttpResponse {
    guarded!(api, request);
    let body = match body_within(payload, MAX_SPEC_BYTES).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let text = match std::str::from_utf8(&body) {
        Ok(text) if text.trim_start().starts_with('{') => {
            match serde_json::from_str::<SqlBody>(text) {
                Ok(body) => body.sql,
                Err(e) => return error(StatusCode::BAD_REQUEST, e),
            }
        }
        Ok(text) => text.to_string(),
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    // Planning recurses as deep as a statement's tree: off the server's
    // threads, on the planner's own.
    let planned = web::block(move || faro_sql::Session::new(SQL_PARALLELISM).execute(&text)).await;
    let outcomes = match planned {
        Ok(Ok(outcomes)) => outcomes,
        Ok(Err(e)) => {
            let kind = format!("{:?}", e.kind).to_lowercase();
            return HttpResponse::BadRequest().json(serde_json::json!({
                "error": e.to_string(),
                "kind": kind,
                "line": e.at.map(|p| p.line),
                "column": e.at.map(|p| p.column),
            }));
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let mut statements = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        statements.push(match outcome {
            faro_sql::Outcome::Done(message) => serde_json::json!({ "done": message }),
            faro_sql::Outcome::Explain(plan) => serde_json::json!({ "explain": plan }),
            faro_sql::Outcome::Job(job) => match api.scheduler.submit(job.spec) {
                Ok(id) => serde_json::json!({ "job": id, "inserts_into": job.inserts_into }),
                Err(e) => return failure(e),
            },
        });
    }
    HttpResponse::Ok().json(serde_json::json!({ "statements": statements }))
}

/// `POST /v1/sql` as JSON.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlBody {
    /// The script.
    sql: String,
}

/// The query of `POST /v1/jobs`.
#[derive(serde::Deserialize)]
struct SubmitQuery {
    /// A savepoint directory to restore the job's state from.
    from_savepoint: Option<String>,
}

/// The body of `POST /v1/jobs/{id}/savepoints` (all optional).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SavepointBody {
    /// Stop the job at the savepoint.
    #[serde(default)]
    stop: bool,
}

async fn savepoint(
    api: State,
    request: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    guarded!(api, request);
    let body = match body_within(payload, 4096).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let asked = match body.is_empty() {
        true => Ok(SavepointBody::default()),
        false => serde_json::from_slice::<SavepointBody>(&body),
    };
    let asked = match asked {
        Ok(asked) => asked,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("savepoint request: {e}")),
    };
    match api.scheduler.savepoint(&id, asked.stop).await {
        Ok(record) => HttpResponse::Created().json(record),
        Err(e) => failure(e),
    }
}

/// The query of `GET /v1/jobs`.
#[derive(serde::Deserialize)]
struct PageQuery {
    limit: Option<usize>,
    after: Option<String>,
}

async fn list(api: State, request: HttpRequest) -> HttpResponse {
    guarded!(api, request);
    let query = match web::Query::<PageQuery>::from_query(request.query_string()) {
        Ok(query) => query.into_inner(),
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("limit must be 1 to {MAX_PAGE}, not {limit}"),
        );
    }
    match api.scheduler.page(query.after.as_deref(), limit) {
        Ok(page) => HttpResponse::Ok().json(page),
        Err(SchedulerError::Store(e)) if query.after.is_some() => error(StatusCode::BAD_REQUEST, e),
        Err(e) => failure(e),
    }
}

async fn spec(api: State, request: HttpRequest, id: web::Path<String>) -> HttpResponse {
    guarded!(api, request);
    match api.scheduler.spec(&id) {
        Ok(spec) => HttpResponse::Ok().json(spec),
        Err(e) => failure(e),
    }
}

async fn checkpoints(api: State, request: HttpRequest, id: web::Path<String>) -> HttpResponse {
    guarded!(api, request);
    match api.scheduler.job(&id) {
        Ok(job) => HttpResponse::Ok().json(job.checkpoints),
        Err(e) => failure(e),
    }
}

async fn graph(api: State, request: HttpRequest, id: web::Path<String>) -> HttpResponse {
    guarded!(api, request);
    match api.scheduler.graph(&id) {
        Ok(graph) => HttpResponse::Ok().json(graph),
        Err(e) => failure(e),
    }
}

async fn status(api: State, request: HttpRequest, id: web::Path<String>) -> HttpResponse {
    guarded!(api, request);
    match api.scheduler.status(&id) {
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

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

async fn metrics(api: State, request: HttpRequest) -> HttpResponse {
    guarded!(api, request);
    let jobs = match api.scheduler.jobs() {
        Ok(jobs) => jobs,
        Err(error) => return HttpResponse::InternalServerError().body(error.to_string()),
    };
    let workers = &api.scheduler.cluster().workers;
    let mut text = crate::metrics::render(&jobs, workers.alive().len());
    text.push_str(&workers.detector_metrics().render());
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
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Serves the API on `addr` until the process exits; returns the bound
/// address.
pub fn serve(
    addr: SocketAddr,
    scheduler: Arc<Scheduler>,
    access: ApiAccess,
) -> std::io::Result<SocketAddr> {
    let (bound_tx, bound_rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("faro-rest".into())
        .spawn(move || {
            let api = web::Data::new(Api { scheduler, access });
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(api.clone())
                    .route("/v1/jobs", web::post().to(submit))
                    .route("/v1/jobs", web::get().to(list))
                    .route("/v1/sql", web::post().to(sql))
                    .route("/v1/jobs/{id}", web::get().to(status))
                    .route("/v1/jobs/{id}/cancel", web::post().to(cancel))
                    .route("/v1/jobs/{id}/result", web::get().to(result))
                    .route("/v1/jobs/{id}/spec", web::get().to(spec))
                    .route("/v1/jobs/{id}/checkpoints", web::get().to(checkpoints))
                    .route("/v1/jobs/{id}/graph", web::get().to(graph))
                    .route("/v1/jobs/{id}/savepoints", web::post().to(savepoint))
                    .route("/v1/workers", web::get().to(cluster::workers))
                    .route("/v1/shuffle/nodes", web::get().to(cluster::shuffle_nodes))
                    .route("/v1/openapi.json", web::get().to(openapi))
                    .route("/healthz", web::get().to(healthz))
                    .route("/metrics", web::get().to(metrics))
                    .route("/", web::get().to(crate::ui::index))
                    .route("/ui/{file}", web::get().to(crate::ui::asset))
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
