//! `ecsub-stage`: see the library's documentation (`cargo doc -p ecsub-stage`) or `ecsub-stage --help`.

fn main() -> std::process::ExitCode {
    trust_the_instance_roots();
    ecsub_stage::main_with(std::env::args_os())
}

/// The instance's user data puts its CA bundle beside the stager (`ca-bundle.pem`, in the folder every container
/// mounts): an image with no CA bundle of its own (busybox, distroless, scratch) could not otherwise verify AWS's
/// certificates, since the SDK trusts the system's roots. The image's own choice (`SSL_CERT_FILE` or
/// `SSL_CERT_DIR`) wins. Set before any thread starts.
fn trust_the_instance_roots() {
    if std::env::var_os("SSL_CERT_FILE").is_some() || std::env::var_os("SSL_CERT_DIR").is_some() {
        return;
    }
    let bundle = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("ca-bundle.pem")));
    if let Some(bundle) = bundle.filter(|b| b.is_file()) {
        std::env::set_var("SSL_CERT_FILE", bundle);
    }
}
