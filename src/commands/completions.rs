//! `faro completions SHELL`: the shell's completion script for every
//! subcommand and flag, generated from the same definitions the parser
//! uses (clap_complete), so it never falls behind them.

/// Options of `faro completions`.
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: Shell,
}

/// The shells a script is written for.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Prints the completion script of `command` for the shell asked.
pub fn print(args: &CompletionsArgs, command: &mut clap::Command) -> anyhow::Result<()> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, command, "faro", &mut std::io::stdout());
    Ok(())
}
