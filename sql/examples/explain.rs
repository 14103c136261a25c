//! Prints the plan of each statement of a SQL file:
//! `cargo run -p faro-sql --example explain -- FILE.sql`.

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: explain FILE.sql");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("{path}: {error}");
            std::process::exit(1);
        }
    };
    let mut session = faro_sql::Session::new(2);
    match session.execute(&text) {
        Ok(outcomes) => {
            for outcome in outcomes {
                match outcome {
                    faro_sql::Outcome::Done(message) => println!("-- {message}"),
                    faro_sql::Outcome::Explain(plan) => print!("{plan}"),
                    faro_sql::Outcome::Job(job) => {
                        print!("{}", faro_sql::explain(&job.spec));
                        if let Err(error) = faro_runtime::spec::validate(&job.spec) {
                            println!("INVALID: {error}");
                        }
                    }
                }
            }
        }
        Err(error) => {
            eprintln!("{path}: {error}");
            std::process::exit(1);
        }
    }
}
