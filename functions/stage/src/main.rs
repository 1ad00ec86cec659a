//! `ecsub-stage`: see the library's documentation (`cargo doc -p ecsub-stage`) or `ecsub-stage --help`.

fn main() -> std::process::ExitCode {
    ecsub_stage::main_with(std::env::args_os())
}
