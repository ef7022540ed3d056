//! The C ABI: a thin skin over the safe core, and nothing else.
//!
//! Conventions (see the README's "C API" section):
//! - opaque handles made by `_new` and released by `_free`; `_free(NULL)` does nothing;
//! - every function returns a `docker_result` (or documents why not); outputs are written only
//!   on success (`docker_runtime_call*` also writes the exit status of a command that failed);
//! - the message of the last failed call on this thread is read with `docker_error_message`,
//!   its OS errno with `docker_error_errno`;
//! - every pointer is NULL-checked and every string checked for UTF-8;
//! - no panic crosses the boundary: every exported function body runs inside [`guard::guard`] (a test
//!   checks that none is missing), and a panic becomes `DOCKER_ERR_PANIC`.
//!
//! Modules: [`runtime`] (the handle, restore, command dispatch, the runtime's pools),
//! [`container`] (typed container functions: create, start with output streaming, wait,
//! stop, kill, remove, inspect, the container list), [`exec`] (a program run in a running
//! container, `docker_container_exec`), [`image`] (import, pull with JSON
//! progress, tag, remove, save and load, the image list), [`events`] (event subscriptions),
//! [`volume`] (create, inspect, list, remove and prune volumes), [`serve`] (the daemon as one call, `docker_runtime_serve`, stopped through a descriptor
//! the host writes to), [`alloc`] (stand-alone allocators), [`error`] (the version and the
//! readers of results and messages), [`result`] (the result codes and each thread's last
//! error), [`guard`] (the guards and argument checks every export uses).

//!
//! Safety contract shared by every export (stated once here rather than on each function):
//! pointer arguments are NULL or valid for the documented use during the call; handles are
//! ones this library made and has not released; buffers are writable for their stated length.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

pub mod alloc;
pub mod container;
pub mod error;
pub mod events;
pub mod exec;
pub mod grow;
pub mod guard;
pub mod image;
pub mod result;
pub mod runtime;
pub mod serve;
pub mod volume;

pub use result::docker_result;

#[cfg(test)]
mod tests {
    /// Every exported function's body must run inside `guard`/`guard_void`, so no panic can
    /// cross the boundary. Checked on the source, so a new export cannot forget it.
    #[test]
    fn every_export_is_guarded() {
        let sources = [
            ("alloc.rs", include_str!("alloc.rs")),
            ("container.rs", include_str!("container.rs")),
            ("error.rs", include_str!("error.rs")),
            ("events.rs", include_str!("events.rs")),
            ("exec.rs", include_str!("exec.rs")),
            ("image.rs", include_str!("image.rs")),
            ("runtime.rs", include_str!("runtime.rs")),
            ("serve.rs", include_str!("serve.rs")),
            ("volume.rs", include_str!("volume.rs")),
        ];
        let mut checked = 0;
        for (file, src) in sources {
            let mut rest = src;
            while let Some(i) = rest.find("extern \"C\" fn ") {
                let after = &rest[i..];
                let name: String = after["extern \"C\" fn ".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let brace = after.find('{').expect("function body");
                let body = after[brace + 1..].trim_start();
                let guarded = ["guard(", "guard_void(", "guard_value("]
                    .iter()
                    .any(|g| body.starts_with(g));
                assert!(
                    guarded,
                    "{file}: {name} does not start its body with guard(...)"
                );
                checked += 1;
                rest = &after[brace..];
            }
        }
        assert!(checked >= 15, "only {checked} exports found");
    }
}
