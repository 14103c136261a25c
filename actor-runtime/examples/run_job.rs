//! Runs a job spec (JSON or YAML) on two workers in this process, with a
//! real shuffle node on loopback for blocking edges, and prints what its
//! `collect` sinks gathered.
//!
//! ```sh
//! cargo run --release -p faro-runtime --example run_job -- actor-runtime/examples/jobs/shuffle_agg.json
//! ```

use std::sync::Arc;
use std::time::Instant;

use faro_runtime::deploy::ShuffleAccess;
use faro_runtime::kernels::views;
use faro_runtime::runner::{run_job, JobEnv};
use faro_runtime::spec::{validate, JobSpec};
use faro_runtime::worker::Worker;
use faro_shuffle::storage::IoPreference;
use faro_shuffle::{ClusterSecret, ShuffleServer};
use faro_transport::{Endpoint, LocalCa, TransportOptions};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: run_job JOB.json|JOB.yaml")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    let job = validate(&JobSpec::parse(&text)?)?;

    let dir = tempfile::tempdir()?;
    let secret = ClusterSecret::new(b"an example secret of enough bytes");
    let tls = LocalCa::generate()?.issue(&["localhost"])?.tls_config();
    let loopback = "127.0.0.1:0".parse()?;
    let node = Endpoint::bind(loopback, &tls, TransportOptions::loopback())?;
    let server = Arc::new(ShuffleServer::open(
        &dir.path().join("shuffle"),
        secret.clone(),
        IoPreference::Auto,
    )?);
    let node_addr = node.local_addr()?;
    tokio::spawn(server.serve(node.clone()));
    let workers = [
        Worker::start(
            2,
            Some(Endpoint::bind(
                loopback,
                &tls,
                TransportOptions::loopback(),
            )?),
        )?,
        Worker::start(
            2,
            Some(Endpoint::bind(
                loopback,
                &tls,
                TransportOptions::loopback(),
            )?),
        )?,
    ];
    let job_id = format!("example-{}", std::process::id());
    let env = JobEnv {
        shuffle: Some(ShuffleAccess {
            nodes: vec![("node".into(), node_addr)],
            token: secret.token(&job_id),
            replicas: 1,
        }),
        job_id,
        max_frame: TransportOptions::default().buffer_size,
    };
    let started = Instant::now();
    let output = run_job(&job, &[&workers[0], &workers[1]], &env).await?;
    let elapsed = started.elapsed();

    let mut shown = 0;
    for batch in &output.collected {
        if shown == 0 {
            let names: Vec<&str> = batch
                .schema()
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .collect();
            println!("{}", names.join("\t"));
        }
        let columns = views(batch);
        for row in 0..batch.num_rows() {
            if shown < 20 {
                let cells: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{:?}", c.value(row)))
                    .collect();
                println!("{}", cells.join("\t"));
            }
            shown += 1;
        }
    }
    if shown > 20 {
        println!("… {} more rows", shown - 20);
    }
    let rows_in: u64 = output.reports.iter().map(|r| r.rows_in).sum();
    println!(
        "job {:?}: {} tasks, {} rows collected, {rows_in} rows processed, in {:.2} s",
        job.name,
        output.reports.len(),
        shown,
        elapsed.as_secs_f64()
    );
    Ok(())
}
