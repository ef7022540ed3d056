//! `docker-runtime-oci`: an OCI runtime with runc's command line (see `oci` in the library).

fn main() -> std::process::ExitCode {
    let args: Vec<String> = match std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect::<Result<_, _>>()
    {
        Ok(args) => args,
        Err(bad) => {
            eprintln!("docker-runtime-oci: an argument is not valid UTF-8: {bad:?}");
            return std::process::ExitCode::from(1);
        }
    };
    std::process::ExitCode::from(::docker_runtime::oci::main(&args) as u8)
}
