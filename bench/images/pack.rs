//! Benchmark helper (`cargo build --release --example image-pack`): `image-pack DIR` writes the
//! tar stream of `docker_runtime::image::pack_dir(DIR)` (what `export` streams) to stdout, so
//! `bench/images/run.sh` can time it next to `tar -cf`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir] = args.as_slice() else {
        eprintln!("usage: image-pack DIR > archive.tar");
        return ExitCode::from(2);
    };
    let stdout = std::io::stdout().lock();
    match docker_runtime::image::pack_dir(Path::new(dir), stdout) {
        Ok(()) => {
            let _ = std::io::stdout().flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("image-pack: {e}");
            ExitCode::FAILURE
        }
    }
}
