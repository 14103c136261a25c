//! The HTTP endpoint every Faro process serves: `GET /metrics` (the
//! Prometheus text format) and `GET /healthz`. Runs actix-web on a thread
//! of its own, so a scrape never waits behind the process's data path.
//! Where the metrics name jobs (a worker's), `/metrics` wants the API's
//! bearer token; `/healthz` never does (probes carry none).

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use anyhow::Context;
use faro_scheduler::auth::ApiAccess;

/// Renders the process's metrics when scraped.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

async fn metrics(
    render: web::Data<Render>,
    access: web::Data<ApiAccess>,
    request: HttpRequest,
) -> HttpResponse {
    let given = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if !access.allows(given) {
        return HttpResponse::Unauthorized().body("missing or wrong bearer token\n");
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(render.get_ref()())
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Binds `addr` and serves until the process exits, `/metrics` to callers
/// `access` allows; returns the bound address (port 0 picks one).
pub fn serve(addr: SocketAddr, render: Render, access: ApiAccess) -> anyhow::Result<SocketAddr> {
    // actix-web's server is built and run on its own thread (it is not
    // `Send`); the thread reports back whether it could bind.
    let (bound_tx, bound_rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("faro-metrics".into())
        .spawn(move || {
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(render.clone()))
                    .app_data(web::Data::new(access.clone()))
                    .route("/metrics", web::get().to(metrics))
                    .route("/healthz", web::get().to(healthz))
            })
            .workers(1)
            // The process handles SIGTERM itself.
            .disable_signals()
            .bind(addr);
            let server = match server {
                Ok(server) => server,
                Err(error) => {
                    let _ = bound_tx.send(Err(error));
                    return;
                }
            };
            let _ = bound_tx.send(Ok(server.addrs()));
            if let Err(error) = actix_web::rt::System::new().block_on(server.run()) {
                tracing::error!(%error, "the metrics endpoint stopped");
            }
        })
        .context("starting the metrics thread")?;
    let addrs = bound_rx
        .recv()
        .context("the metrics thread exited")?
        .with_context(|| format!("binding the metrics address {addr}"))?;
    addrs
        .first()
        .copied()
        .with_context(|| format!("binding the metrics address {addr}"))
}
