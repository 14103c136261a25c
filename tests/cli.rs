//! The `faro` binary: every process and client command exists, and one
//! whose part is not built yet says so on one line and exits with status 2.

use std::process::Command;

const SUBCOMMANDS: [&[&str]; 8] = [
    &["scheduler"],
    &["worker"],
    &["local"],
    &["run", "examples/wordcount.json"],
    &["submit", "examples/wordcount.json"],
    &["jobs"],
    &["status", "job-1"],
    &["cancel", "job-1"],
];

fn faro(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_faro"))
        .args(args)
        .output()
        .expect("faro runs")
}

#[test]
fn help_lists_every_subcommand() {
    let help = String::from_utf8(faro(&["--help"]).stdout).unwrap();
    assert!(help.contains("shuffle-service"), "{help}");
    for args in SUBCOMMANDS {
        assert!(
            help.contains(args[0]),
            "`faro --help` does not mention {}:\n{help}",
            args[0]
        );
    }
}

#[test]
fn unbuilt_parts_say_so_on_one_line_and_exit_2() {
    for args in SUBCOMMANDS {
        let output = faro(args);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "faro {args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "faro {args:?} printed: {stderr}");
        assert!(
            stderr.contains("not built yet"),
            "faro {args:?} printed: {stderr}"
        );
    }
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let output = faro(&["frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("frobnicate"));
}
