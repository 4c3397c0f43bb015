//! The `staleauth` command: parses arguments, runs one subcommand, and maps its result to an exit
//! code (0 success, 1 a check failed, 2 invalid input or I/O failure, 101 internal error).

mod commands;

use std::process::ExitCode;

use clap::Parser;

use staleauth::error::{EXIT_INTERNAL, Error};

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    // A panic is a bug: report it as an internal error with exit code 101, as Rust does.
    let outcome = std::panic::catch_unwind(|| commands::exec(cli));
    match outcome {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(e)) => {
            match &e {
                Error::Scenario(_) => eprintln!("{e}"),
                _ => eprintln!("error: {e}"),
            }
            ExitCode::from(e.exit_code() as u8)
        }
        Err(_) => {
            eprintln!(
                "internal error: staleauth panicked (message above).\nThis is a bug in staleauth. Please report it with the scenario file and seed."
            );
            ExitCode::from(EXIT_INTERNAL as u8)
        }
    }
}
