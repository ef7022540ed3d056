//! `docker-init`: the container start helper of docker-runtime. Started by the library with its
//! socket at fd 3; not meant to be run by hand. See `docker_runtime::init`.

fn main() {
    std::process::exit(docker_runtime::init::main());
}
