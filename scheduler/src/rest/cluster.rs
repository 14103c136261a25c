//! The cluster's endpoints: the workers (slots, attempts running there,
//! when each was last heard from) and the shuffle nodes (their counters,
//! asked for when the request comes).

use actix_web::{HttpRequest, HttpResponse};

use super::{refusal, State};

/// `GET /v1/workers`.
pub(super) async fn workers(api: State, request: HttpRequest) -> HttpResponse {
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
                "running_attempts": w.progress().len(),
                "last_heartbeat_ms_ago": w.silent_ms(),
            })
        })
        .collect();
    HttpResponse::Ok().json(workers)
}

/// `GET /v1/shuffle/nodes`.
pub(super) async fn shuffle_nodes(api: State, request: HttpRequest) -> HttpResponse {
    guarded!(api, request);
    HttpResponse::Ok().json(api.scheduler.shuffle_nodes().await)
}
