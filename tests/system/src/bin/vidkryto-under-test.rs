//! The `vidkryto` program, built inside this package so its tests can run it as a process
//! (`CARGO_BIN_EXE_*` names only a package's own binaries). It is `vidkryto`'s one entry
//! point, nothing else.

fn main() -> std::process::ExitCode {
    vidkryto::main_entry()
}
