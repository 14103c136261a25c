//! `job_spec`: a job spec as a user submits it (REST body or `faro run`
//! file): `JobSpec::parse` (JSON when it starts with `{`, else YAML), then
//! `spec::validate`, and for a valid job `plan::Plan::new`, the same steps
//! the scheduler and every worker take. A deployment carries the spec to
//! workers as JSON, so a spec that validated must still validate after
//! `to_json` and plan to the same chains.

#![no_main]

use faro_runtime::plan::Plan;
use faro_runtime::spec::{validate, JobSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let spec = match JobSpec::parse(text) {
        Ok(spec) => spec,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let job = match validate(&spec) {
        Ok(job) => job,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let plan = Plan::new(&job);
    assert!(!plan.chains.is_empty());
    for exchange in &plan.exchanges {
        assert!(exchange.from < plan.chains.len() && exchange.to < plan.chains.len());
        for &key in &exchange.keys {
            assert!(key < exchange.schema.fields.len());
        }
    }
    for chain in &plan.chains {
        for &e in chain.inputs.iter().chain(&chain.outputs) {
            assert!(e < plan.exchanges.len());
        }
    }

    // What a worker gets: the spec through JSON, validated and planned again.
    let json = spec.to_json();
    let again = JobSpec::parse(&json).expect("a valid spec's JSON parses");
    let job_again = validate(&again).expect("a valid spec's JSON validates");
    let plan_again = Plan::new(&job_again);
    let names = |p: &Plan| p.chains.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&plan), names(&plan_again));
    assert_eq!(plan.exchanges.len(), plan_again.exchanges.len());
});
