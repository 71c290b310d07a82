//! Entry point of the `vidkryto` binary: parse, set up logging, run, map errors to exit codes.

use std::process::ExitCode;

fn main() -> ExitCode {
    vidkryto::main_entry()
}
